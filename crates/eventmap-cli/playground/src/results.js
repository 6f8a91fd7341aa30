// Each event's outcome: the mapped event, why it was skipped, every key that failed and
// where its rule is, or every destination rule it breaks, by name; and the `explain`
// trace of every key.
import { el, json } from './dom.js';

const OUTCOME_TEXT = {
  mapped: 'mapped',
  invalid: 'invalid for the destination',
  skipped: 'skipped',
  failed: 'failed',
  unreadable: 'not an event',
};

export function outcomeBadge(result) {
  return el('span', { class: `badge ${result.outcome}`, 'data-outcome': result.outcome },
    OUTCOME_TEXT[result.outcome] || result.outcome);
}

// The detail of one event's result; `goTo(line)` moves the editor to a mapping line.
export function resultDetail(result, goTo) {
  const parts = [el('h3', {}, outcomeBadge(result), ' ', result.label)];
  if (result.reason) parts.push(el('p', { class: 'reason' }, result.reason));
  if (result.errors && result.errors.length) {
    parts.push(el('ul', { class: 'errors' }, result.errors.map((e) => el('li', { 'data-key': e.key },
      el('a', { href: '#', onclick: (event) => { event.preventDefault(); goTo(e.line); } },
        `${e.line}:${e.column}`), ` key \`${e.key}\`: ${e.message}`))));
  }
  if (result.violations && result.violations.length) {
    parts.push(el('ul', { class: 'violations' }, result.violations.map((v) =>
      el('li', {}, v.rule ? el('code', { class: 'rule' }, v.rule) : null, ' ',
        v.path ? `${v.path}: ` : '', v.message))));
  }
  if (result.output) {
    parts.push(el('h4', {}, 'output'), el('pre', { class: 'output' }, json(result.output)));
  }
  if (result.section) {
    parts.push(el('h4', {}, 'explain'),
      el('p', { class: 'section' }, `section `, el('code', {}, result.section.name),
        ` (${result.section.matched})`));
  }
  if (result.trace && result.trace.length) parts.push(traceTable(result.trace, goTo));
  return el('div', { class: 'detail' }, parts);
}

function traceTable(keys, goTo) {
  return el('table', { class: 'trace' },
    el('thead', {}, el('tr', {}, el('th', {}, 'key'), el('th', {}, 'source'),
      el('th', {}, 'result'), el('th', {}, 'line'))),
    el('tbody', {}, keys.flatMap((key) => traceRows(key, goTo, ''))));
}

function traceRows(key, goTo, indent) {
  const r = key.result;
  const text = r.kind === 'set' ? short(r.value)
    : r.kind === 'default' ? `${short(r.value)} (the default)`
      : r.kind === 'absent' ? `absent: ${r.why}` : `FAILED: ${r.why}`;
  const row = el('tr', { class: `key ${r.kind}`, 'data-key': key.key },
    el('td', {}, indent + key.key),
    el('td', {}, key.source),
    el('td', { class: 'result' }, text),
    el('td', {}, el('a', { href: '#', onclick: (e) => { e.preventDefault(); goTo(key.line); } },
      String(key.line))));
  const inner = (key.elements || []).flatMap((element, i) =>
    element.flatMap((k) => traceRows(k, goTo, `${indent}  [${i}] `)));
  return [row, ...inner];
}

function short(value) {
  const text = JSON.stringify(value);
  return text.length > 90 ? `${text.slice(0, 87)}...` : text;
}
