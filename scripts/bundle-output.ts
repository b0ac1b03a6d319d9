/**
 * What the build does to esbuild's output before it ships: drops the import.meta.url shim where
 * nothing reads it, and refuses a bundle that would cost every cold start (non-ASCII text) or fail
 * under the loader (an import() left in it).
 */
import type { Metafile } from 'esbuild';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { BuildError } from './build-error.ts';

/**
 * esbuild turns `import.meta.url` into undefined in CommonJS output; give it the real file URL.
 * Removed again from a bundle that never reads it (pathToFileURL at load costs ~1 ms).
 */
export const IMPORT_META_URL_SHIM = 'var __import_meta_url=require("url").pathToFileURL(__filename).href;';

/** Drops the shim's line (and its source-map line) when nothing in the bundle uses it. */
export function dropUnusedShim(file: string): void {
  const code = readFileSync(file, 'utf8');
  if (!code.startsWith(`${IMPORT_META_URL_SHIM}\n`) || code.split('__import_meta_url').length > 2) return;
  writeFileSync(file, code.slice(IMPORT_META_URL_SHIM.length + 1));
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { mappings: string };
    map.mappings = map.mappings.replace(/^[^;]*;/, '');
    writeFileSync(mapFile, JSON.stringify(map));
  }
}

/**
 * The eager bundle must be ASCII. esbuild escapes non-ASCII text in strings but not in every regular
 * expression literal, and one such character makes V8 hold the whole bundle as a two-byte string: at
 * every cold start the source (and the loader's wrapped copy) take twice the memory, enough for a
 * scavenge before the first reply. Write the character as a \u escape in the source instead.
 */
export function assertAsciiBundle(name: string, file: string): void {
  const text = readFileSync(file, 'utf8');
  const at = text.search(/[\u0080-\uffff]/);
  if (at < 0) return;
  const near = text.slice(Math.max(0, at - 40), at + 20);
  throw new BuildError(`build: ${name}: ${basename(file)} holds the non-ASCII character ${JSON.stringify(text[at])} near ${JSON.stringify(near)}; write it as a \\u escape in the source (a non-ASCII bundle costs twice the memory at every cold start)`);
}

/**
 * main.js runs as a vm.Script (the loader, for its code cache), and a vm.Script has no way to load
 * what an `import()` asks for on Node 20: it throws "A dynamic import callback was not specified" when
 * reached, on FC, at the first https call. esbuild leaves an import() in the output for a module it
 * does not bundle (a name it cannot see, say); the build refuses it, naming it. The text is searched
 * too, since an import() of an expression is not in the metafile. The benchmarks use it on their
 * bundles with their own reason (`why`).
 */
export function assertNoDynamicImport(name: string, file: string, metafile: Metafile, why = "which the loader's vm.Script cannot run"): void {
  const fail = (detail: string) => {
    throw new BuildError(`build: ${name}: ${basename(file)} keeps an import() ${detail}, ${why}; import a package or a node: builtin by its name`);
  };
  for (const out of Object.values(metafile.outputs)) {
    const left = out.imports.filter((i) => i.kind === 'dynamic-import');
    if (left.length > 0) fail(`of ${left.map((i) => JSON.stringify(i.path)).join(', ')}`);
  }
  const code = readFileSync(file, 'utf8');
  const at = code.search(/(?<![\w$.])import\(/);
  if (at >= 0) fail(`near ${JSON.stringify(code.slice(Math.max(0, at - 30), at + 40))}`);
}
