// The playground server's API. Every request carries the session token the server
// printed in the page's URL: a page of another site cannot read it, so it cannot call
// the API (and a cross-site request with a custom header needs a CORS preflight the
// server never answers).
const token = new URLSearchParams(location.search).get('token') || '';

async function call(method, path, body) {
  const answer = await fetch(path, {
    method,
    headers: { 'X-Playground-Token': token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await answer.json().catch(() => ({ error: `answer ${answer.status}` }));
  if (!answer.ok) throw new Error(data.error || `answer ${answer.status}`);
  return data;
}

export const api = {
  state: () => call('GET', '/api/state'),
  evaluate: (mapping, events, params, now) => call('POST', '/api/evaluate', { mapping, events, params, now }),
  saveMapping: (mapping) => call('POST', '/api/save-mapping', { mapping }),
  saveFixture: (fixture) => call('POST', '/api/save-fixture', fixture),
};
