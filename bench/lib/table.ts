import type { BenchResult, Goal, Table } from './types.ts';

function cell(v: string | number): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return 'n/a';
    return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) >= 100 ? 1 : 2);
  }
  return v;
}

/** A plain-text table: first column left-aligned, the others right-aligned (they are numbers). */
export function renderTable(t: Table): string {
  const rows = t.rows.map((r) => r.map(cell));
  const widths = t.columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  if (t.title) out.push(t.title);
  out.push(line(t.columns), line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) out.push(line(t.columns.map((_, i) => r[i] ?? '')));
  return out.join('\n');
}

export function formatGoal(g: Goal): string {
  const show = (n: number) => (g.digits !== undefined && Number.isFinite(n) ? n.toFixed(g.digits) : cell(n));
  const verdict = g.pass ? 'PASS' : 'MISS';
  return `${verdict}  ${g.label}: ${show(g.value)} ${g.unit} (goal ≤ ${show(g.limit)} ${g.unit})${g.note ? `\n      ${g.note}` : ''}`;
}

export function renderResult(r: BenchResult): string {
  const out = [`== ${r.name} — ${r.description}`, `   (${(r.durationMs / 1000).toFixed(1)} s, started ${r.startedAt})`, ''];
  for (const t of r.tables) out.push(renderTable(t), '');
  for (const g of r.goals) out.push(formatGoal(g));
  if (r.goals.length) out.push('');
  for (const n of r.notes) out.push(`note: ${n}`);
  return out.join('\n').trimEnd() + '\n';
}

export const mb = (kb: number): number => kb / 1024;
export const kb = (bytes: number): number => bytes / 1024;
