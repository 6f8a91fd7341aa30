// The shop of docs/browser.md in a real browser: Debian's Chromium driven by
// playwright-core, the two pages taken from the doc as written (host names given test
// ports, https made http), analytics.js and RudderStack's JS SDK posting to `eventmap
// serve`, and a hostile page on another subdomain of the shop.
//
//   node browser-shop.mjs SERVE_PORT PAGE_PORT DOC
//
// Every *.shop.example name resolves to 127.0.0.1 (Chromium's host resolver rules): pages
// are served here on PAGE_PORT, serve listens on SERVE_PORT. Prints, as its last line, the
// orders whose CAPI events the caller must find at the mock (price → expected oppref, or
// null for none) and the requests that tried to leave the machine.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';

const [servePort, pagePort, docPath] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
const SERVE = `http://t.shop.example:${servePort}`;
const SHOP = `http://www.shop.example:${pagePort}`;
const BLOG = `http://blog.shop.example:${pagePort}`;

/** A fenced block of the doc, by the name after its language: ```html segment-page. */
function snippet(name) {
  const doc = fs.readFileSync(docPath, 'utf8');
  const found = doc.match(new RegExp('```\\w+ ' + name + '\\n([\\s\\S]*?)\\n```'));
  assert.ok(found, `docs/browser.md has no block named ${name}`);
  return found[1];
}

/** A snippet as the test serves it: the test's ports, http instead of https. */
function local(text) {
  return text
    .replaceAll('t.shop.example', `t.shop.example:${servePort}`)
    .replaceAll('https://', 'http://')
    .replaceAll("protocol: 'https'", "protocol: 'http'");
}

const pages = {
  segment: local(snippet('segment-page')),
  rudder: local(snippet('rudderstack-page')),
};
// The order-confirmation calls, as the doc writes them, with the price the test gives.
const orderCalls = {
  segment: local(snippet('segment-order')),
  rudder: local(snippet('rudderstack-order')),
};

const files = {
  '/analytics-next/bundles/': path.join(here, 'node_modules/@segment/analytics-next/dist/umd'),
  '/rudderstack/': path.join(here, 'node_modules/@rudderstack/analytics-js/dist/npm/modern/bundled/umd'),
};

// What a page elsewhere on the shop's site tries: a credentialed POST, an image, and a
// top-level navigation (which carries SameSite=Lax cookies), each to set its own oppref.
const attack = `<!doctype html><html><body><script>
fetch('${SERVE}/v1/idsync?oppref=op_from_unlisted', { method: 'POST', credentials: 'include', mode: 'no-cors' })
  .catch(() => {})
  .then(() => new Promise((done) => { const img = new Image(); img.onload = img.onerror = done;
    img.src = '${SERVE}/v1/idsync?oppref=op_from_image'; }))
  .then(() => { window.attacked = true; location.href = '${SERVE}/v1/idsync?oppref=op_from_link'; });
</script></body></html>`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, SHOP);
  const host = (req.headers.host || '').split(':')[0];
  if (host === 'blog.shop.example' && url.pathname === '/attack.html') {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(attack);
  }
  const kind = url.pathname.match(/^\/(segment|rudder)\//);
  if (host === 'www.shop.example' && kind) {
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end(pages[kind[1]]);
  }
  for (const [prefix, dir] of Object.entries(files)) {
    const file = url.pathname.startsWith(prefix) && path.join(dir, url.pathname.slice(prefix.length));
    if (file && file.startsWith(dir) && fs.existsSync(file) && fs.statSync(file).isFile()) {
      res.writeHead(200, { 'content-type': 'application/javascript' });
      return res.end(fs.readFileSync(file));
    }
  }
  res.writeHead(404);
  res.end();
});
await new Promise((resolve) => server.listen(Number(pagePort), '127.0.0.1', resolve));

const browser = await launchChromium([
  '--host-resolver-rules=MAP *.shop.example 127.0.0.1',
  // The test's http pages are not upgraded to https (real shops are https throughout).
  '--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable',
]);
const expected = {};
const outside = [];

/** A fresh profile; requests anywhere but the shop's hosts are refused and recorded. */
async function session() {
  const context = await browser.newContext();
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host.endsWith('.shop.example')) return route.continue();
    outside.push(route.request().url());
    return route.abort();
  });
  const tab = await context.newPage();
  const errors = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  const cookies = async () =>
    (await context.cookies(SHOP)).filter((c) => c.name === '__oppref').map((c) => `${c.domain}=${c.value}`).sort();
  const answered = (pathPart) =>
    tab.waitForResponse((r) => r.url().startsWith(SERVE) && new URL(r.url()).pathname === pathPart && r.request().method() === 'POST');
  return { context, tab, errors, cookies, answered };
}

/** Visits a shop page and waits for its page view to be answered by serve. */
async function land(s, kind, where, pageViewPath) {
  const viewed = s.answered(pageViewPath);
  await s.tab.goto(SHOP + `/${kind}/` + where);
  const answer = await viewed;
  assert.equal(answer.status(), 200, `the page view of ${where}: ${await answer.text()}`);
  return answer;
}

/** Runs the doc's order call with `price` and waits until serve answered it. */
async function order(s, kind, price, trackPath) {
  const answered = s.answered(trackPath);
  const call = orderCalls[kind].replace('price: 42', `price: ${price}`).replace("'o-1001'", `'o-${price}'`);
  await s.tab.evaluate(call);
  const answer = await answered;
  assert.equal(answer.status(), 200, `order ${price}: ${await answer.text()}`);
  return JSON.parse(answer.request().postData());
}

async function accept(s) {
  const synced = s.answered('/v1/idsync');
  await s.tab.click('#accept');
  assert.equal((await synced).status(), 204);
  await s.tab.waitForTimeout(100);
}

async function decline(s) {
  const revoked = s.answered('/v1/idsync/revoke');
  await s.tab.click('#decline');
  assert.equal((await revoked).status(), 204);
  await s.tab.waitForTimeout(100);
}

const oppref = (event) => event?.context?.providers?.openAI?.oppref;

// 1. analytics.js: landing, consent, the order with its oppref; decline deletes every
// cookie, the site-wide one serve set included (the page gives the script no `domain`).
{
  const s = await session();
  await land(s, 'segment', 'landing.html?oppref=opp_seg_1', '/v1/p');
  assert.deepEqual(await s.cookies(), [], 'stored before consent');
  await accept(s);
  const stored = await s.cookies();
  assert.ok(stored.includes('.shop.example=opp_seg_1'), `serve's site-wide cookie: ${stored}`);
  await land(s, 'segment', 'confirm.html', '/v1/p');
  // OpenAI's pixel's browser id, where the pixel runs too, rides along.
  await s.tab.evaluate(() => { document.cookie = '__obref=ob_browser_1; Path=/'; });
  const first = await order(s, 'segment', 71, '/v1/t');
  assert.equal(oppref(first), 'opp_seg_1');
  assert.equal(first.context.providers.openAI.obref, 'ob_browser_1');
  expected[71] = 'opp_seg_1';
  // serve's module wrapper imports from any page.
  const imported = await s.tab.evaluate(async (url) => (await import(url)).valid('opp_1'), SERVE + '/idsync.mjs');
  assert.equal(imported, true);
  await decline(s);
  assert.deepEqual(await s.cookies(), [], 'decline leaves no __oppref cookie');
  const after = await order(s, 'segment', 72, '/v1/t');
  assert.equal(oppref(after), undefined);
  assert.equal(after.context.consent.categoryPreferences.advertising, false);
  expected[72] = null;
  assert.deepEqual(s.errors, []);
  await s.context.close();
}

// 2. RudderStack's JS SDK, through the preflight its headers need.
{
  const s = await session();
  const posted = [];
  s.tab.on('request', (r) => {
    if (r.url().startsWith(SERVE + '/v1/') && r.method() === 'POST' && !r.url().includes('idsync')) {
      posted.push(r.headers());
    }
  });
  await land(s, 'rudder', 'landing.html?oppref=opp_rs_1', '/v1/page');
  await accept(s);
  await land(s, 'rudder', 'confirm.html', '/v1/page');
  const event = await order(s, 'rudder', 73, '/v1/track');
  assert.equal(oppref(event), 'opp_rs_1', JSON.stringify(event));
  assert.ok(posted.some((h) => h.anonymousid), `RudderStack sends AnonymousId: ${JSON.stringify(posted)}`);
  expected[73] = 'opp_rs_1';
  assert.deepEqual(s.errors, []);
  await s.context.close();
}

// 3. Crafted landing links: nothing stored or attached, and the mapping's fallback to
// the page URL sends nothing either; a 10 KB landing URL keeps its page view.
{
  const s = await session();
  const hostile = ['<script>alert(1)</script>', 'a;b=c', 'café', 'o'.repeat(3000)];
  for (const [i, value] of hostile.entries()) {
    await land(s, 'segment', `landing.html?oppref=${encodeURIComponent(value)}`, '/v1/p');
    await s.tab.evaluate(() => idsync.grant());
    const event = await order(s, 'segment', 81 + i, '/v1/t');
    assert.equal(oppref(event), undefined, value);
    assert.deepEqual(await s.cookies(), [], `stored ${value}`);
    expected[81 + i] = null;
  }
  const long = `landing.html?utm_content=${'x'.repeat(10000)}&oppref=opp_long_1`;
  await land(s, 'segment', long, '/v1/p');
  await s.tab.evaluate(() => idsync.grant());
  assert.equal(oppref(await order(s, 'segment', 85, '/v1/t')), 'opp_long_1');
  expected[85] = 'opp_long_1';
  await s.context.close();
}

// 4. A page elsewhere on the site (not a listed origin) cannot overwrite the visitor's id.
{
  const s = await session();
  await land(s, 'segment', 'landing.html?oppref=opp_legit_1', '/v1/p');
  await accept(s);
  const before = await s.cookies();
  assert.ok(before.includes('.shop.example=opp_legit_1'), `${before}`);
  const navigated = s.tab.waitForURL((u) => u.href.includes('op_from_link'));
  await s.tab.goto(BLOG + '/attack.html');
  await navigated;
  await s.tab.waitForTimeout(300);
  const after = await s.cookies();
  assert.deepEqual(after, before, 'an unlisted page changed the cookie');
  await land(s, 'segment', 'confirm.html', '/v1/p');
  assert.equal(oppref(await order(s, 'segment', 91, '/v1/t')), 'opp_legit_1');
  expected[91] = 'opp_legit_1';
  await s.context.close();
}

await browser.close();
server.close();
console.log(JSON.stringify({ expected, outside }));
