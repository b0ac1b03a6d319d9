// POST /silences refuses an AlertName outside ALERT_NAMES: every name the code can give must be in it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { ALERT_NAMES } from '../../../shared/silences/silence.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'));
}

it('every alert name the monitor, the receipts and the CAMS sandbox give is one a silence may name', () => {
  const given = new Set<string>();
  const patterns = [
    /entityType: '([A-Za-z_]+)'/g, // subjects written out
    /monitorSubject\('([A-Za-z]+)'/g, // the sweep's own alerts
    /clearMonitorAlert\([^,]+, '([A-Za-z]+)'/g,
  ];
  for (const text of sources('shared')) for (const re of patterns) for (const m of text.matchAll(re)) given.add(m[1]!);
  // The CAMS entity types (a health check's subjects carry CAMS's own EntityType), as the sandbox answers them.
  for (const text of sources('local/sandbox')) for (const m of text.matchAll(/entity\('([A-Z_]+)'/g)) given.add(m[1]!);
  for (const text of sources('local/sandbox')) for (const m of text.matchAll(/EntityType: '([A-Z_]+)'/g)) given.add(m[1]!);
  expect(given.size).toBeGreaterThan(10);
  expect([...given].filter((n) => !(ALERT_NAMES as readonly string[]).includes(n))).toEqual([]);
});
