/**
 * The shape of the source tree, as the TypeScript parser reads its imports (type-only ones included):
 * no import cycles, the layers point one way (functions → shared; local → functions, shared; shared
 * → nothing above it), and storage stays behind its port: only shared/store/ names an adapter.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..');
const SOURCE_DIRS = ['functions/', 'shared/', 'local/', 'scripts/'];
const ADAPTERS = ['shared/store/file-store.ts', 'shared/store/redis-store.ts', 'shared/store/memory-store.ts'];

/** Every tracked source module and the source modules it imports (relative specifiers, resolved). */
function importGraph(): Map<string, string[]> {
  const files = SOURCE_DIRS.flatMap((d) => (readdirSync(join(ROOT, d), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => normalize(d + f)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const src = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, false);
    const deps: string[] = [];
    for (const node of src.statements) {
      if (!(ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) || !node.moduleSpecifier || !ts.isStringLiteral(node.moduleSpecifier)) continue;
      const spec = node.moduleSpecifier.text;
      if (!spec.startsWith('.')) continue;
      const target = normalize(join(dirname(file), spec));
      if (known.has(target)) deps.push(target);
    }
    graph.set(file, deps);
  }
  return graph;
}

/** The import cycles, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (u: string) => {
    state.set(u, 'open');
    path.push(u);
    for (const v of graph.get(u) ?? []) {
      if (state.get(v) === 'open') found.push([...path.slice(path.indexOf(v)), v]);
      else if (!state.has(v)) visit(v);
    }
    path.pop();
    state.set(u, 'done');
  };
  for (const f of graph.keys()) if (!state.has(f)) visit(f);
  return found;
}

const graph = importGraph();
const edges = [...graph].flatMap(([from, tos]) => tos.map((to) => ({ from, to })));

describe('the source tree', () => {
  it('is read: a few hundred modules and their imports', () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get('shared/monitor/sweep.ts')).toContain('shared/monitor/tick-jobs.ts');
  });

  it('has no import cycle', () => {
    expect(cycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const g = new Map([...graph, ['shared/store/port.ts', [...(graph.get('shared/store/port.ts') ?? []), 'shared/monitor/sweep.ts']]]);
    expect(cycles(g).length).toBeGreaterThan(0);
  });

  it('layers point one way: shared imports nothing above it, functions nothing of the local host or the scripts', () => {
    const upward = edges.filter(
      ({ from, to }) =>
        (from.startsWith('shared/') && !to.startsWith('shared/')) || (from.startsWith('functions/') && (to.startsWith('local/') || to.startsWith('scripts/'))),
    );
    expect(upward).toEqual([]);
  });

  it('only shared/store/ names a store adapter; the rest opens one through STORE_URL (shared/store/index.ts)', () => {
    const outside = edges.filter(({ from, to }) => ADAPTERS.includes(to) && !from.startsWith('shared/store/'));
    expect(outside).toEqual([]);
  });
});
