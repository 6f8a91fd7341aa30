// The ID sync in a real browser: Debian's Chromium driven by playwright-core, pages served
// here on 127.0.0.1 with the real @segment/analytics-next posting to `eventmap serve`.
//
//   node browser-idsync.mjs SERVE_URL WRITE_KEY PAGE_PORT
//
// Checks what the browser stores and what it posts; prints, as its last line, the orders
// whose mapped CAPI events the caller must find at the mock (price → expected oppref,
// or null for none).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const [serveUrl, writeKey, pagePort] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const bundles = path.join(here, 'node_modules/@segment/analytics-next/dist/umd');
const DAY = 86400;

// What each scenario passes to EventmapIdSync.init.
const scenarios = {
  plain: {},
  consent: { consentRequired: true },
  life: { days: 2 },
  server: { days: 1, server: serveUrl },
};

function page(options) {
  const apiHost = `${new URL(serveUrl).host}/v1`;
  return `<!doctype html><html><head><meta charset="utf-8">
<script src="${serveUrl}/idsync.js"></script>
<script src="/analytics-next/bundles/index.js"></script>
</head><body><script>
const q = new URLSearchParams(location.search);
window.idsync = EventmapIdSync.init(${JSON.stringify(options)});
const analytics = AnalyticsNext.AnalyticsBrowser.load({
  writeKey: ${JSON.stringify(writeKey)},
  cdnURL: location.origin,
  cdnSettings: { integrations: { 'Segment.io': { apiKey: ${JSON.stringify(writeKey)}, apiHost: ${JSON.stringify(apiHost)}, protocol: 'http' } } },
});
analytics.addSourceMiddleware(idsync.segmentMiddleware());
(async () => {
  if (q.get('price')) {
    const price = Number(q.get('price'));
    await analytics.track('Order Completed', { order_id: 'o-' + price, currency: 'USD',
      products: [{ product_id: 'p-' + price, price, quantity: 1 }] });
  }
  window.done = true;
})().catch((e) => { window.failed = String(e); });
</script></body></html>`;
}

// Pages at /s/<scenario>/<anything>.html; analytics-next's bundles where its cdnURL says.
const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${pagePort}`);
  const scenario = url.pathname.match(/^\/s\/(\w+)\//);
  if (scenario && scenarios[scenario[1]]) {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(page(scenarios[scenario[1]]));
  }
  const bundle = url.pathname.match(/^\/analytics-next\/bundles\/([\w.-]+\.js)$/);
  if (bundle && fs.existsSync(path.join(bundles, bundle[1]))) {
    res.writeHead(200, { 'content-type': 'application/javascript' });
    return res.end(fs.readFileSync(path.join(bundles, bundle[1])));
  }
  res.writeHead(404);
  res.end();
});
await new Promise((resolve) => server.listen(Number(pagePort), '127.0.0.1', resolve));

const browser = await launchChromium();
const origin = `http://127.0.0.1:${pagePort}`;
const expected = {};

/** A fresh browser profile that records the events posted to serve. */
async function session() {
  const context = await browser.newContext();
  const posted = [];
  context.on('request', (request) => {
    if (request.url().startsWith(`${serveUrl}/v1/`) && !request.url().includes('/v1/idsync')) {
      posted.push(JSON.parse(request.postData()));
    }
  });
  const tab = await context.newPage();
  const visit = async (where) => {
    await tab.goto(origin + where);
    await tab.waitForFunction(() => window.done || window.failed, null, { timeout: 20000 });
    assert.equal(await tab.evaluate(() => window.failed), undefined, `page ${where} failed`);
  };
  const cookie = async () => (await context.cookies(origin)).find((c) => c.name === '__oppref');
  const oppref = (event) => event?.context?.providers?.openAI?.oppref;
  return { context, tab, posted, visit, cookie, oppref };
}

// 1. Landing with ?oppref=, then a page without it: both events carry it.
{
  const s = await session();
  await s.visit('/s/plain/landing.html?oppref=opp_first_1&price=11');
  await s.visit('/s/plain/checkout.html?price=12');
  const tracks = s.posted.filter((e) => e.type === 'track');
  assert.equal(tracks.length, 2, JSON.stringify(s.posted));
  for (const t of tracks) assert.equal(s.oppref(t), 'opp_first_1', JSON.stringify(t));
  assert.equal((await s.cookie()).value, 'opp_first_1');
  assert.equal(await s.tab.evaluate(() => idsync.get()), 'opp_first_1');
  expected[11] = 'opp_first_1';
  expected[12] = 'opp_first_1';
  await s.context.close();
}

// 2. Consent required and not given: nothing stored, nothing attached; grant, then revoke.
{
  const s = await session();
  await s.visit('/s/consent/landing.html?oppref=opp_consent_2&price=21');
  assert.equal(await s.cookie(), undefined, 'stored before consent');
  assert.equal(await s.tab.evaluate(() => localStorage.getItem('__oppref')), null);
  const first = s.posted.find((e) => e.type === 'track');
  assert.equal(s.oppref(first), undefined, 'attached before consent');
  assert.equal(first.context.consent.categoryPreferences.advertising, false);
  // The browser attached nothing, but the mapping still reads ?oppref= from the landing
  // page's URL, and sends the event with opt_out: true (as the seed's consent rule says).
  expected[21] = 'opp_consent_2';
  await s.tab.evaluate(() => idsync.grant());
  assert.equal((await s.cookie()).value, 'opp_consent_2', 'what was seen is kept once granted');
  await s.visit('/s/consent/checkout.html?price=22');
  const second = s.posted.filter((e) => e.type === 'track')[1];
  assert.equal(s.oppref(second), 'opp_consent_2');
  assert.equal(second.context.consent.categoryPreferences.advertising, true);
  expected[22] = 'opp_consent_2';
  await s.tab.evaluate(() => idsync.revoke());
  assert.equal(await s.cookie(), undefined, 'revoke() deletes the cookie');
  assert.equal(await s.tab.evaluate(() => idsync.get()), null);
  await s.context.close();
}

// 3. The configured lifetime is what the browser stores; a newer oppref replaces the old.
{
  const s = await session();
  await s.visit('/s/life/landing.html?oppref=opp_old_3');
  const stored = await s.cookie();
  const expires = stored.expires - Date.now() / 1000;
  assert.ok(Math.abs(expires - 2 * DAY) < 120, `lifetime ${expires} s, not 2 days`);
  assert.equal(stored.sameSite, 'Lax');
  await s.visit('/s/life/landing.html?oppref=opp_new_3');
  assert.equal((await s.cookie()).value, 'opp_new_3');
  await s.context.close();
}

// 4. Hostile values are refused: nothing stored, nothing attached.
{
  const s = await session();
  const hostile = ['x'.repeat(300), 'a;b', 'a=b', '<script>alert(1)</script>', 'opp ref'];
  for (const [i, value] of hostile.entries()) {
    await s.visit(`/s/plain/landing.html?oppref=${encodeURIComponent(value)}&price=${41 + i}`);
    assert.equal(await s.cookie(), undefined, `stored ${value}`);
  }
  const jar = await s.tab.evaluate(() => document.cookie);
  assert.ok(!jar.includes('__oppref') && !jar.includes('script') && !jar.includes('a=b'), jar);
  for (const t of s.posted.filter((e) => e.type === 'track')) assert.equal(s.oppref(t), undefined);
  await s.context.close();
}

// 5. The server-set cookie: serve's Set-Cookie (its lifetime, not the script's 1 day) is
// what the next page reads.
{
  const s = await session();
  const answered = s.tab.waitForResponse((r) => r.url().includes('/v1/idsync'));
  await s.visit('/s/server/landing.html?oppref=opp_server_5');
  assert.equal((await answered).status(), 204);
  await s.tab.waitForTimeout(200);
  const stored = await s.cookie();
  const expires = stored.expires - Date.now() / 1000;
  assert.ok(expires > 80 * DAY, `lifetime ${expires} s: not the server's 90 days`);
  await s.visit('/s/server/checkout.html?price=51');
  assert.equal(await s.tab.evaluate(() => idsync.get()), 'opp_server_5');
  const track = s.posted.find((e) => e.type === 'track');
  assert.equal(s.oppref(track), 'opp_server_5');
  expected[51] = 'opp_server_5';
  await s.context.close();
}

// 6. Cookies unavailable (blocked, or a sandboxed frame): localStorage keeps the id.
{
  const s = await session();
  await s.context.addInitScript(() => {
    Object.defineProperty(Document.prototype, 'cookie', { get: () => '', set: () => {} });
  });
  await s.visit('/s/plain/landing.html?oppref=opp_local_6');
  assert.equal(await s.tab.evaluate(() => localStorage.getItem('__oppref')), 'opp_local_6');
  await s.visit('/s/plain/checkout.html?price=61');
  const track = s.posted.find((e) => e.type === 'track');
  assert.equal(s.oppref(track), 'opp_local_6');
  expected[61] = 'opp_local_6';
  await s.context.close();
}

await browser.close();
server.close();
console.log(JSON.stringify({ expected }));
