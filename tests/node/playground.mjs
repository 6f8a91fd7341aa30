// `eventmap playground` in a real browser: Debian's Chromium driven by playwright-core,
// typing into the page's editor with the keyboard as a user does.
//
//   node playground.mjs URL [SCREENSHOTS]
//
// URL is the one the playground printed (with its token); the playground was started on
// a copy of mappings/openai.yaml and the bundled example events, at the clock the example
// was written for. The script misspells a transform and measures how long the located
// diagnostic takes to show, fixes it, reads an explain trace and an invalid event's rule
// names, checks that a fixture of an unsaved mapping is refused, saves the mapping with a
// comment added, then saves a fixture. Prints, as its last line, a JSON report the caller
// checks (and what it must find on disk).
import assert from 'node:assert/strict';
import { launchChromium } from './chromium.mjs';

// SCREENSHOTS, when given, is a path prefix: PREFIX-diagnostic.png shows the typo's
// diagnostic, PREFIX-outcomes.png a failed event's keys and trace (docs/playground.md).
const [url, screenshots] = process.argv.slice(2);
assert.ok(url, 'usage: node playground.mjs URL [SCREENSHOTS]');
const origin = new URL(url).origin;

const browser = await launchChromium();
const report = { outside: [], console: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Every request must stay on the playground's own origin: no CDN, no fonts, nothing.
  await page.route('**/*', (route) => {
    const target = route.request().url();
    if (new URL(target).origin === origin) return route.continue();
    report.outside.push(target);
    return route.abort();
  });
  page.on('console', (message) => {
    if (message.type() === 'error') report.console.push(message.text());
  });
  page.on('pageerror', (error) => report.console.push(String(error)));

  await page.goto(url);
  const evaluations = () => page.evaluate(() => Number(document.body.dataset.evaluations || 0));
  const waitEvaluatedAfter = async (count) =>
    page.waitForFunction((n) => Number(document.body.dataset.evaluations || 0) > n, count);
  await waitEvaluatedAfter(0);

  // Every outcome of the example: mapped, skipped, failed and invalid.
  const outcomes = () => page.$$eval('#events li .badge', (badges) =>
    badges.map((b) => b.dataset.outcome || 'none'));
  report.outcomes_at_start = await outcomes();
  assert.deepEqual([...new Set(report.outcomes_at_start)].sort(),
    ['failed', 'invalid', 'mapped', 'skipped'], `outcomes: ${report.outcomes_at_start}`);

  // A typo typed into the editor: select `sha256_email` and type the misspelt name.
  const word = 'sha256_email';
  const { line, from } = await page.evaluate((w) => {
    const { editor } = window.playground;
    const text = editor.state.doc.toString();
    const at = text.indexOf(`transform: ${w}`) + 'transform: '.length;
    editor.dispatch({ selection: { anchor: at, head: at + w.length } });
    editor.focus();
    return { line: editor.state.doc.lineAt(at).number, from: at - editor.state.doc.lineAt(at).from };
  }, word);
  const before = await evaluations();
  await page.keyboard.type('sha256_emial', { delay: 15 });
  const typed = Date.now();
  const diagnostic = page.locator(`#diagnostics li[data-line="${line}"]`);
  await diagnostic.waitFor({ timeout: 5000 });
  report.typo = {
    line,
    column: from + 1,
    shown_after_ms: Date.now() - typed,
    evaluations: (await evaluations()) - before,
    text: await diagnostic.textContent(),
    column_shown: Number(await diagnostic.getAttribute('data-column')),
    marked_in_editor: await page.locator('.cm-lintRange-error').count(),
    outcomes: await outcomes(),
  };
  if (screenshots) {
    // The diagnostic's link brings its line into view; hovering the mark shows the message.
    await diagnostic.locator('a').click();
    await page.locator('.cm-lintRange-error').hover();
    await page.locator('.cm-tooltip-lint').waitFor();
    await page.screenshot({ path: `${screenshots}-diagnostic.png` });
  }

  // Fixed: the outputs come back as they were.
  await page.evaluate((w) => {
    const { editor } = window.playground;
    const text = editor.state.doc.toString();
    const at = text.indexOf('transform: sha256_emial') + 'transform: '.length;
    editor.dispatch({ selection: { anchor: at, head: at + w.length } });
    editor.focus();
  }, word);
  await page.keyboard.type(word, { delay: 15 });
  await page.waitForFunction(() => document.querySelectorAll('#diagnostics li').length === 0
    && document.querySelector('#events li .badge[data-outcome]') !== null);
  report.outcomes_after_fix = await outcomes();

  // The explain trace of a mapped event, and the rules an invalid one breaks.
  const indexOf = async (outcome) => (await outcomes()).indexOf(outcome);
  await page.locator('#events li').nth(await indexOf('mapped')).click();
  report.trace_keys = await page.$$eval('#detail table.trace tr[data-key]',
    (rows) => rows.map((r) => r.dataset.key));
  report.mapped_output = JSON.parse(await page.locator('#detail pre.output').textContent());
  await page.locator('#events li').nth(await indexOf('invalid')).click();
  report.invalid_rules = await page.$$eval('#detail .violations code.rule', (c) => c.map((x) => x.textContent));
  await page.locator('#events li').nth(await indexOf('failed')).click();
  report.failed_keys = await page.$$eval('#detail .errors li', (items) => items.map((i) => i.dataset.key));

  // A pasted compact event is added and evaluated.
  const added = await evaluations();
  await page.locator('summary', { hasText: 'Add events' }).click();
  await page.fill('#new-events', JSON.stringify({
    type: 'track', event: 'Order Completed', messageId: 'pasted-1',
    timestamp: '2026-11-21T11:50:00Z', anonymousId: 'anon-pasted',
    context: { page: { url: 'https://shop.example/checkout' } },
    properties: { order_id: 'pasted-order', currency: 'EUR', products: [{ product_id: 'p', price: 5, quantity: 2 }] },
  }));
  await page.click('#add-events');
  await waitEvaluatedAfter(added);
  report.pasted = (await outcomes()).at(-1);

  // A fixture of a mapping with unsaved changes is refused: it would not describe the file.
  await page.evaluate(() => {
    const { editor } = window.playground;
    editor.dispatch({ selection: { anchor: 0 } });
    editor.focus();
  });
  const edited = await evaluations();
  await page.keyboard.type('# edited in the playground\n');
  await waitEvaluatedAfter(edited);
  await page.fill('#fixture-name', 'refused while unsaved');
  await page.click('#save-fixture');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('fixture not saved'));
  report.unsaved_fixture = await page.locator('#status').textContent();

  await page.click('#save-mapping');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('saved'));
  report.saved_mapping = await page.locator('#status').textContent();

  // The pasted event, saved as a fixture.
  await page.fill('#fixture-name', 'pasted order');
  await page.click('#save-fixture');
  await page.waitForFunction(() => document.querySelector('#status').textContent.startsWith('fixture "'));
  report.saved_fixture = await page.locator('#status').textContent();

  if (screenshots) {
    await page.locator('#events li').nth(await indexOf('failed')).click();
    await page.screenshot({ path: `${screenshots}-outcomes.png` });
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
