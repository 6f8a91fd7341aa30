// The playground page: the mapping in an editor, the events beside it, and every
// event's outcome, recomputed by the server's compiler as the mapping is typed.
import { api } from './api.js';
import { el, json } from './dom.js';
import { mappingEditor, showDiagnostics, goToLine } from './editor.js';
import { outcomeBadge, resultDetail } from './results.js';

const TYPING_PAUSE_MS = 200;

const page = {
  mapping: '',
  savedMapping: '',
  events: [], // { label, event }
  params: '',
  selected: 0,
  results: [],
  diagnostics: [],
  evaluations: 0,
};
let editor;
let pending;
let inFlight = Promise.resolve();

const $ = (id) => document.getElementById(id);

function status(text, kind = 'info') {
  const line = $('status');
  line.textContent = text;
  line.className = kind;
}

function paramList() {
  return page.params.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

// Evaluates now (after the previous evaluation), and shows what the server says.
function evaluate() {
  clearTimeout(pending);
  const mapping = page.mapping;
  const events = page.events.map((e) => e.event);
  const params = paramList();
  const now = $('clock').value;
  inFlight = inFlight.then(async () => {
    try {
      const answer = await api.evaluate(mapping, events, params, now);
      if (mapping !== page.mapping) return; // typed on meanwhile: the next one shows
      page.diagnostics = answer.diagnostics;
      page.results = answer.results.map((result, i) => ({ ...result, label: page.events[i]?.label }));
      page.evaluations += 1;
      if ($('status').textContent.startsWith('evaluation failed')) status('');
      render(answer);
    } catch (error) {
      status(`evaluation failed: ${error.message}`, 'error');
    }
  });
  return inFlight;
}

function evaluateSoon() {
  clearTimeout(pending);
  pending = setTimeout(evaluate, TYPING_PAUSE_MS);
}

function render(answer) {
  showDiagnostics(editor, page.diagnostics);
  const list = $('diagnostics');
  list.replaceChildren(...page.diagnostics.map((d) => el('li', {
    class: 'diagnostic', 'data-line': d.line, 'data-column': d.column,
  }, el('a', { href: '#', onclick: (e) => { e.preventDefault(); goToLine(editor, d.line); } },
    `${d.line}:${d.column}`), ' ', d.message)));
  $('compiled').textContent = page.diagnostics.length
    ? `${page.diagnostics.length} error(s): the outputs wait for a mapping that compiles`
    : `compiles${answer.destination ? `, for ${answer.destination}` : ''}`;
  $('compiled').className = page.diagnostics.length ? 'error' : 'ok';
  document.body.dataset.evaluations = String(page.evaluations);
  renderEvents();
}

function renderEvents() {
  const rows = page.events.map((item, i) => {
    const result = page.diagnostics.length ? null : page.results[i];
    return el('li', {
      class: i === page.selected ? 'event selected' : 'event',
      'data-index': i,
      onclick: () => { page.selected = i; renderEvents(); },
    }, result ? outcomeBadge(result) : el('span', { class: 'badge none' }, '—'), ' ', item.label);
  });
  $('events').replaceChildren(...rows);
  const item = page.events[page.selected];
  $('event-input').value = item ? json(item.event) : '';
  const result = page.diagnostics.length ? null : page.results[page.selected];
  $('detail').replaceChildren(result ? resultDetail(result, (line) => goToLine(editor, line))
    : el('p', { class: 'muted' }, page.events.length ? 'no outcome while the mapping does not compile' : 'no events yet: add one below'));
}

// One event, a JSON array of events, or NDJSON (one event a line).
function readEvents(text) {
  const trimmed = text.trim();
  if (!trimmed) return [];
  try {
    const value = JSON.parse(trimmed);
    return Array.isArray(value) ? value : [value];
  } catch (whole) {
    return trimmed.split('\n').filter((l) => l.trim()).map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (error) {
        throw new Error(`line ${i + 1} is not JSON: ${error.message}`);
      }
    });
  }
}

function addEvents() {
  try {
    const events = readEvents($('new-events').value);
    if (!events.length) return status('nothing to add: paste or type an event', 'error');
    for (const event of events) {
      page.events.push({ label: event.messageId || event.event || `event ${page.events.length + 1}`, event });
    }
    page.selected = page.events.length - 1;
    $('new-events').value = '';
    status(`added ${events.length} event(s)`);
    evaluate();
  } catch (error) {
    status(`not added: ${error.message}`, 'error');
  }
}

function applyEventEdit() {
  const item = page.events[page.selected];
  if (!item) return;
  try {
    item.event = JSON.parse($('event-input').value);
    status(`event ${item.label} changed`);
    evaluate();
  } catch (error) {
    status(`the event is not JSON: ${error.message}`, 'error');
  }
}

async function saveMapping() {
  try {
    const answer = await api.saveMapping(page.mapping);
    page.savedMapping = page.mapping;
    status(`saved ${answer.file}`, 'ok');
  } catch (error) {
    status(`not saved: ${error.message}`, 'error');
  }
}

async function saveFixture() {
  const item = page.events[page.selected];
  if (!item) return status('choose an event first', 'error');
  const name = $('fixture-name').value.trim() || `playground: ${item.label}`;
  try {
    const answer = await api.saveFixture({
      name, mapping: page.mapping, event: item.event, params: paramList(), now: $('clock').value,
    });
    status(`fixture "${name}" added to ${answer.file} (${answer.expectation}); \`eventmap test ${answer.file}\` runs it`, 'ok');
  } catch (error) {
    status(`fixture not saved: ${error.message}`, 'error');
  }
}

async function start() {
  const state = await api.state();
  page.mapping = state.mapping.text;
  page.savedMapping = state.mapping.text;
  page.events = state.events;
  page.params = state.params.join('\n');
  $('mapping-file').textContent = state.mapping.file;
  $('fixtures-file').textContent = state.fixtures_file;
  $('params').value = page.params;
  $('clock').value = state.now || '';
  editor = mappingEditor($('editor'), page.mapping, (text) => {
    page.mapping = text;
    evaluateSoon();
  });
  window.playground = { editor, page, evaluate };
  $('add-events').addEventListener('click', addEvents);
  $('apply-event').addEventListener('click', applyEventEdit);
  $('save-mapping').addEventListener('click', saveMapping);
  $('save-fixture').addEventListener('click', saveFixture);
  $('params').addEventListener('input', () => { page.params = $('params').value; evaluateSoon(); });
  $('clock').addEventListener('input', evaluateSoon);
  await evaluate();
}

start().catch((error) => status(`the playground could not start: ${error.message}`, 'error'));
