// The status page as one self-contained HTML document: no script, no external asset, one inline
// stylesheet allowed by its hash (the CSP below), readable without JavaScript and on a phone.
import { createHash } from 'node:crypto';
import { formatDuration } from '../alerts/duration.ts';
import type { HealthError } from '../cams/operations.ts';
import type { ObservedStatus } from '../monitor/entity-state.ts';
import { HISTORY_DAYS } from '../history/history.ts';
import type { BarRun, GroupView, NodeView, StatusView } from './view.ts';

const CLS: Record<ObservedStatus, string> = { AVAILABLE: 'A', LIMITED: 'L', BLOCKED: 'B', ERROR: 'E' };

// Colours: WCAG AA contrast for the white state text on each badge; bars add a day grid so runs read as cells.
// CAMS's texts and silence comments often hold a URL, which has no space to break at: it may break anywhere.
// On a phone a bar of 90 one-day runs (a state change every day) fits only with 1px between its cells.
const CSS = [
  ':root{color-scheme:light;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;background:#fff}',
  'body{margin:0 auto;max-width:64rem;padding:1rem}h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:0}',
  'header p,small,.muted{color:#57606a}section,.box{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .8rem;margin:.8rem 0}',
  'ul{list-style:none;margin:0;padding:0}li{padding:.45rem 0;border-top:1px solid #eaeef2}li:first-child{border-top:0}',
  '.st{display:inline-block;min-width:5.6rem;text-align:center;font-weight:600;font-size:.8rem;padding:.05rem .4rem;border-radius:4px;color:#fff}',
  '.st.A{background:#1a7f37}.st.L{background:#9a6700}.st.B{background:#cf222e}.st.E{background:#8250df}',
  '.row{display:flex;flex-wrap:wrap;gap:.3rem .6rem;align-items:baseline}.name{font-weight:600;overflow-wrap:anywhere}',
  '.bar{display:flex;height:1.4rem;margin:.35rem 0 .1rem;gap:2px}.bar i{display:block;min-width:2px;border-radius:2px;',
  'background-image:linear-gradient(90deg,transparent calc(100% - 2px),#fff calc(100% - 2px))}',
  '.bar .A{background-color:#2da44e}.bar .L{background-color:#d4a72c}.bar .B{background-color:#cf222e}.bar .E{background-color:#8250df}.bar .N{background-color:#d0d7de}',
  '.err{margin:.3rem 0 0;padding:.3rem .5rem;background:#fff8c5;border-left:3px solid #9a6700;font-size:.9rem;overflow-wrap:anywhere}.err b{font-family:ui-monospace,monospace}',
  '.tag{font-size:.75rem;border:1px solid #8c959f;border-radius:1rem;padding:0 .45rem;color:#424a53}',
  '.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:middle;margin:0 .2rem 0 .6rem}',
  '.legend .A{background:#2da44e}.legend .L{background:#d4a72c}.legend .B{background:#cf222e}.legend .E{background:#8250df}.legend .N{background:#d0d7de}',
  'table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .4rem;border-top:1px solid #eaeef2;vertical-align:top;overflow-wrap:anywhere}',
  // On a phone the table's head is hidden and each cell is a line of its own: it says what it is.
  '@media (max-width:40rem){body{padding:.5rem}.bar{gap:1px}td,th{display:block;border:0;padding:.1rem 0}tr{display:block;border-top:1px solid #d0d7de;padding:.4rem 0}thead{display:none}td[data-label]::before{content:attr(data-label) ": ";color:#57606a}}',
  ...Array.from({ length: HISTORY_DAYS }, (_, i) => `.w${i + 1}{flex:${i + 1} 1 0;background-size:calc(100%/${i + 1}) 100%}`),
].join('\n');

const STYLE_HASH = createHash('sha256').update(CSS).digest('base64');

/** No script at all, the one stylesheet by hash, nothing loaded from anywhere. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; script-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (v: unknown): string => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

const badge = (s: ObservedStatus) => `<span class="st ${CLS[s]}">${s}</span>`;

function bar(runs: readonly BarRun[]): string {
  const bad = runs.filter((r) => r.state && r.state !== 'AVAILABLE').reduce((n, r) => n + r.days, 0);
  const none = runs.filter((r) => !r.state).reduce((n, r) => n + r.days, 0);
  const summary = `${HISTORY_DAYS} days: ${bad} not AVAILABLE, ${none} unchecked`;
  let out = `<div class="bar" role="img" aria-label="${esc(summary)}">`;
  for (const r of runs) {
    const when = r.days === 1 ? r.to : `${r.from} – ${r.to}`;
    out += `<i class="${r.state ? CLS[r.state] : 'N'} w${r.days}" title="${when}: ${r.state ?? 'no check'}"></i>`;
  }
  return out + '</div>';
}

/** Errors as CAMS (or the monitor) gave them, with the PossibleSolution: all of it text, never markup. */
function errors(list: readonly HealthError[]): string {
  let out = '';
  for (const e of list) {
    out += `<p class="err"><b>${esc(e.ErrorCode)}</b> ${esc(e.ErrorDescription ?? '')}`;
    if (e.PossibleSolution) out += `<br>PossibleSolution: ${esc(e.PossibleSolution)}`;
    out += '</p>';
  }
  return out;
}

function node(n: NodeView): string {
  let out = `<li class="node" data-state="${n.status}"><div class="row">${badge(n.status)}<span class="name">${esc(n.label)}</span>`;
  if (n.inhibited) out += '<span class="tag">held back: its WABA is BLOCKED</span>';
  if (n.silencedBy) out += `<span class="tag">silenced (${esc(n.silencedBy)})</span>`;
  out += `<small>since ${time(n.since)} · last checked ${time(n.lastCheckedAt)}</small></div>`;
  return out + errors(n.errors) + bar(n.bar) + '</li>';
}

function group(g: GroupView, view: StatusView): string {
  const parts = (Object.keys(g.counts) as ObservedStatus[]).filter((k) => g.counts[k] > 0).map((k) => `${g.counts[k]} ${k}`);
  let out = `<section class="group" data-state="${g.worst}"><div class="row"><h2>${esc(g.label)}</h2>${badge(g.worst)}<small>${parts.join(' · ')} · oldest check ${time(g.oldestCheck)}</small></div>`;
  out += bar(g.bar);
  if (g.nodes.length > 0) out += `<ul>${g.nodes.map(node).join('')}</ul>`;
  if (g.healthyNotListed > 0) {
    const href = `?waba=${encodeURIComponent(g.id)}`;
    out += `<p class="muted">${g.nodes.length ? 'and ' : ''}${g.healthyNotListed} nodes AVAILABLE with no bad day in ${HISTORY_DAYS} days (<a href="${esc(href)}">list them</a>)</p>`;
  }
  if (view.only !== undefined) out += '<p><a href="?">back to all WABAs</a></p>';
  return out + '</section>';
}

export interface RenderOptions {
  /** Seconds between reloads (meta refresh); 0 or absent for none. */
  refreshSeconds?: number;
}

/**
 * The monitor's own firing alerts in the headline (the counts are of nodes only): while no check is
 * answered, that every state below may be stale, and since when; any other, by name.
 */
function monitorHeadline(view: StatusView): string {
  let out = '';
  const stale = view.stale;
  if (stale) {
    out += `<p class="err" id="monitoring-impaired"><b>Monitoring impaired</b> since ${time(stale.since)} (${esc(stale.alerts.join(', '))}): no check is being answered, so the states below may be stale since then.</p>`;
  }
  const others = view.monitorAlerts.filter((a) => !stale?.alerts.includes(a.name));
  if (others.length > 0) {
    const names = others.map((a) => (a.count > 1 ? `${a.name} ×${a.count}` : a.name)).join(', ');
    out += `<p id="monitor-alerts">The monitor's ${stale ? 'other' : 'own'} alerts firing: ${esc(names)}, listed first under Open incidents.</p>`;
  }
  return out;
}

/** When the monitor last swept, and how long ago: states older than that are not fresher than it. */
function sweepLine(view: StatusView): string {
  const s = view.sweep;
  if (!s) return '<p id="sweep">No sweep has run yet.</p>';
  const of = `${s.checked}${s.total !== undefined ? ` of ${s.total}` : ''} targets checked`;
  if (s.completedAt !== undefined) return `<p id="sweep">Last sweep completed ${time(s.completedAt)}, ${formatDuration(view.now - s.completedAt)} ago: ${of}.</p>`;
  return `<p id="sweep">Sweep in progress since ${time(s.startedAt)}: ${of}, last progress ${formatDuration(view.now - s.updatedAt)} ago.</p>`;
}

/** The push receipts' counts under GET /health-report's names, and the WABAs they named that nothing watches. */
function receiptsSection(view: StatusView): string {
  const r = view.receipts;
  if (!r) return '';
  let out = '<section id="receipts"><h2>Push receipts</h2>';
  const s = r.stats;
  if (s.received === 0 && r.unknownWabas.length === 0) return out + '<p class="muted">None received yet.</p></section>';
  out += `<p id="receipt-counts">${s.received} received: ${s.processed} processed · ${s.duplicates} duplicates · ${s.invalid} invalid · ${s.unknown} unknown · ${s.unknownWaba} unknownWaba · ${s.removed} removed.</p>`;
  // Look-ups, not receipts: apart from the counts above, and only when the role lacks its grant.
  if (s.lookUpRefused > 0) {
    out += `<p class="err" id="lookups-refused">${s.lookUpRefused} WABA look-up${s.lookUpRefused === 1 ? '' : 's'} refused by CAMS for the function's own credentials or grant (lookUpRefused): grant cams:QueryChatappBindWaba to the cams-events role; their receipts wait as unknownWaba until it is.</p>`;
  }
  if (r.unknownWabas.length > 0) {
    const list = r.unknownWabas.map((w) => `WABA ${esc(w.wabaId)}${w.lastAt !== undefined ? ` (last ${time(w.lastAt)})` : ''}`).join(', ');
    out += `<p id="unknown-wabas">Named by receipts, watched by nothing (not alerted): ${list}${r.more ? ' and more the page does not list' : ''}.</p>`;
  }
  return out + '</section>';
}

export function renderStatusPage(view: StatusView, opts: RenderOptions = {}): string {
  const c = view.counts;
  const total = c.AVAILABLE + c.LIMITED + c.BLOCKED + c.ERROR;
  const overall = view.overall;
  let out = '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">';
  if (opts.refreshSeconds && opts.refreshSeconds > 0) out += `<meta http-equiv="refresh" content="${Math.floor(opts.refreshSeconds)}">`;
  // The tab's title is what a glance sees: it says when the states below may be stale.
  out += `<title>WhatsApp health: ${overall}${view.stale ? ' (monitoring impaired)' : ''}</title><style>${CSS}</style></head><body>`;
  out += `<header><h1>WhatsApp health ${badge(overall)}</h1><p id="summary">${total} nodes: ${c.AVAILABLE} AVAILABLE · ${c.LIMITED} LIMITED · ${c.BLOCKED} BLOCKED · ${c.ERROR} ERROR. Generated ${time(view.now)}.</p>`;
  out += sweepLine(view);
  out += monitorHeadline(view);
  out += `<p class="legend" aria-hidden="true">Each bar is the last ${HISTORY_DAYS} UTC days, one cell per day, coloured by the worst state that day:<i class="A"></i>AVAILABLE<i class="L"></i>LIMITED<i class="B"></i>BLOCKED<i class="E"></i>ERROR<i class="N"></i>no check</p></header>`;

  out += `<section id="incidents"><h2>Open incidents (${view.incidentCount})</h2>`;
  if (view.incidentCount === 0) out += '<p class="muted">None: nothing is firing.</p>';
  else {
    out += '<table><thead><tr><th>State</th><th>Node</th><th>Since</th><th>For</th></tr></thead><tbody>';
    for (const i of view.incidents) {
      const tags = i.silencedBy ? ` <span class="tag">silenced (${esc(i.silencedBy)})</span>` : '';
      out += `<tr class="incident" data-state="${i.status}"><td>${badge(i.status)}</td><td>${esc(i.node)}${tags}${errors(i.errors ?? [])}</td><td data-label="Since">${time(i.since)}</td><td data-label="For">${formatDuration(i.durationMs)}</td></tr>`;
    }
    out += '</tbody></table>';
    const more = view.incidentCount - view.incidents.length;
    // The monitor's own come first and are under no WABA: when the list ends in one, some of the rest may be too.
    const elsewhere = view.incidents.at(-1)?.monitor ? '' : view.only !== undefined ? ', each listed under its WABA on <a href="?">the page of all WABAs</a>' : ', each listed under its WABA below';
    if (more > 0) out += `<p class="muted" id="incidents-not-listed">${more} more${elsewhere}.</p>`;
  }
  out += '</section>';

  out += `<section id="silences"><h2>Silences (${view.silences.length})</h2>`;
  if (view.silences.length === 0) out += '<p class="muted">None.</p>';
  else {
    out += '<table><thead><tr><th>State</th><th>Matchers</th><th>Window</th><th>By</th><th>Comment</th><th>Held back</th></tr></thead><tbody>';
    for (const s of view.silences) {
      out += `<tr class="silence" data-state="${s.state}"><td>${s.state}</td><td data-label="Matchers">${esc(s.matchers)}</td><td data-label="Window">${time(s.startsAt)} – ${time(s.endsAt)}</td><td data-label="By">${esc(s.createdBy)}</td><td data-label="Comment">${esc(s.comment)}</td><td data-label="Held back">${s.suppressed}</td></tr>`;
    }
    out += '</tbody></table>';
  }
  if (view.moreEndedSilences) out += '<p class="muted" id="silences-not-listed">More ended in the last 7 days: <code>GET /silences</code> lists them.</p>';
  out += '</section>';
  out += receiptsSection(view);
  out += '<main>';
  if (view.groups.length === 0) {
    // ?waba= of a WABA the page does not have: say so, and the way back (no group to carry the link).
    out += view.only !== undefined ? `<p class="muted">No watched node is under WABA ${esc(view.only)}.</p><p><a href="?">back to all WABAs</a></p>` : '<p class="muted">No node has been checked yet.</p>';
  } else if (view.only !== undefined) {
    // The counts and incidents above are of every WABA: say that the list below is of one.
    out += `<p class="muted" id="only-waba">Listing WABA ${esc(view.only)} only; the counts and incidents above cover every watched node. <a href="?">All WABAs</a></p>`;
  }
  for (const g of view.groups) out += group(g, view);
  return out + '</main></body></html>';
}
