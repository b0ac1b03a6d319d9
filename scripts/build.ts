/**
 * Bundles every function listed in serverless.yml into dist/<function>/index.js (esbuild).
 *
 *   tsx scripts/build.ts [--allow-missing] [--root <project dir>] [--out <dist dir>] [--quiet] [--no-code-cache] [--no-warm-up]
 *
 * FC's nodejs20 runtime loads index.js with require(), and deploys only the artifact, so each
 * bundle is CommonJS with every runtime dependency inside. A package reached only through a dynamic
 * `await import('pkg')` (`@alicloud/fc2`) is bundled into its own file,
 * dist/<function>/lazy/<pkg>.js, and required from there on first use: index.js (the eager bundle,
 * parsed at every cold start) stays small and the artifact stays self-contained. Relative dynamic
 * imports stay inside index.js behind esbuild's lazy wrapper.
 *
 * V8 code cache: Node 20 has no `module.enableCompileCache` (Node >= 22.1), so the build does what
 * it does by hand. The bundle is main.js; main.js.cache is V8's code for it, taken in a fresh
 * `node` after the module has initialised (so it holds the functions start-up runs, not only the
 * top level) and, for the CAMS functions, after one warm-up request against the embedded sandbox
 * (scripts/warm-up.ts), so it also holds what a first request runs; index.js is a small loader that
 * compiles main.js with that cache (see LOADER). V8 rejects a cache made by another V8 build or
 * with other flags: the loader then compiles as usual.
 *
 * Next to them: certs/, the TLS roots as an OpenSSL hashed directory (scripts/root-store.ts),
 * main.js.map (external source map), meta.json (esbuild metafile, for bundle analysis) and
 * package.json {"type": "commonjs"} so the bundle also loads with require() inside this ESM
 * repository. Source maps and meta.json are not deployed (serverless/cams-fc-plugin.js,
 * dist/<function>/.fcignore).
 */
import { build as esbuild, type BuildOptions as BuildOptionsEsbuild, type Metafile, type Plugin } from 'esbuild';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { FC_CODE_DIR, NO_CERT_FILE, ROOT_STORE_DIR, writeRootStore } from './root-store.ts';
import { startWarmUp, type WarmUpInvocation } from './warm-up.ts';

const execFileAsync = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface BuildOptions {
  /** Project directory holding serverless.yml and functions/. Default: this repository. */
  root?: string;
  /** Output directory. Default: <root>/dist. */
  outDir?: string;
  /** Skip (with a warning) functions whose handler.ts does not exist yet, instead of failing. */
  allowMissing?: boolean;
  /** Where progress lines go. Default: console.log. */
  log?: (line: string) => void;
  /** Write main.js.cache (V8 code cache). Default: true. */
  codeCache?: boolean;
  /** Take the code cache after a warm-up request (scripts/warm-up.ts) where one is defined. Default: true. */
  warmUp?: boolean;
}

export interface LazyFile {
  /** The package imported lazily, e.g. `@alicloud/fc2`. */
  pkg: string;
  file: string;
  bytes: number;
}

export interface BuiltFunction {
  name: string;
  entry: string;
  outFile: string;
  /** Size of the loader index.js + main.js: what every cold start loads (lazy/ files excluded). */
  bytes: number;
  /** Size of main.js.cache (0 without a code cache). */
  cacheBytes: number;
  /** Whether main.js.cache was taken after a warm-up request (else after initialisation only). */
  warmedUp: boolean;
  /** Packages split out of index.js, loaded on first use. */
  lazy: LazyFile[];
  /** Input files of the bundle, relative to the project root (node_modules paths included). */
  inputs: string[];
  warnings: string[];
}

export interface BuildResult {
  built: BuiltFunction[];
  missing: string[];
  millis: number;
}

export class BuildError extends Error {
  override name = 'BuildError';
}

/** Function names, in file order, from serverless.yml's `functions:` map. */
export function listFunctions(serverlessYml: string): string[] {
  const doc: unknown = parseYaml(readFileSync(serverlessYml, 'utf8'));
  const functions = (doc as { functions?: unknown } | null)?.functions;
  if (!functions || typeof functions !== 'object' || Array.isArray(functions)) {
    throw new BuildError(`${serverlessYml}: no "functions:" map`);
  }
  const names = Object.keys(functions);
  for (const name of names) {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(name)) throw new BuildError(`${serverlessYml}: bad function name "${name}"`);
  }
  return names;
}

/**
 * Some dependencies require() an OPTIONAL package that is not installed, on a path that never
 * runs unless configured (urllib, under @alicloud/fc2, loads `proxy-agent` only when a proxy is
 * enabled). Leave exactly those imports external, as they are unbundled, instead of failing; any
 * other unresolvable import still fails the build.
 */
export function optionalDependencyExternals(leftExternal: Set<string>): Plugin {
  const SKIP = Symbol('optional-externals');
  return {
    name: 'optional-dependency-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === SKIP || args.path.startsWith('node:')) return undefined;
        const attempt = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: SKIP });
        if (attempt.errors.length === 0) return attempt;
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0]!;
        const owner = owningPackage(args.importer);
        if (owner && isOptional(owner.json, name)) {
          leftExternal.add(`${name} (optional dependency of ${owner.json.name ?? owner.dir}, not installed)`);
          return { path: args.path, external: true };
        }
        return attempt;
      });
    },
  };
}

interface PackageJson {
  name?: string;
  optionalDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

function owningPackage(file: string): { dir: string; json: PackageJson } | undefined {
  let dir = dirname(file);
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const json = JSON.parse(readFileSync(candidate, 'utf8')) as PackageJson;
      if (json.name) return { dir, json };
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isOptional(pkg: PackageJson, name: string): boolean {
  return Boolean(pkg.optionalDependencies?.[name] || pkg.peerDependenciesMeta?.[name]?.optional);
}

/**
 * @middy/core imports node:stream, node:stream/promises and node:stream/web at the top for its
 * response-streaming mode, which FC functions never use; loading them costs ~3 ms of every cold
 * start. Inside @middy/core only, they become getters that load the module on first use.
 */
export function lazyMiddyStreams(): Plugin {
  // What @middy/core imports from each; a new name there fails the build ("No matching export").
  const NAMES: Record<string, string[]> = {
    'node:stream': ['Readable'],
    'node:stream/promises': ['pipeline'],
    'node:stream/web': ['ReadableStream'],
  };
  return {
    name: 'lazy-middy-streams',
    setup(build) {
      build.onResolve({ filter: /^node:stream(\/promises|\/web)?$/ }, (args) =>
        /[\\/]@middy[\\/]core[\\/]/.test(args.importer) ? { path: args.path, namespace: 'lazy-builtin' } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
        loader: 'js',
        contents: [
          // A stand-in that loads the real export on first get, call, construct or instanceof.
          'const lazy = (load) => new Proxy(function () {}, {',
          '  get: (_, k) => Reflect.get(load(), k),',
          '  has: (_, k) => k in load(),',
          '  apply: (_, self, args) => Reflect.apply(load(), self, args),',
          '  construct: (_, args) => Reflect.construct(load(), args),',
          '});',
          `let m; const mod = () => (m ??= require(${JSON.stringify(args.path)}));`,
          ...(NAMES[args.path] ?? []).map((n) => `export const ${n} = lazy(() => mod().${n});`),
        ].join('\n'),
      }));
    },
  };
}

/** `@alicloud/fc2` -> `lazy/alicloud__fc2.js`: a plain file name per package. */
export const lazyFileName = (pkg: string): string => `lazy/${pkg.replace(/^@/, '').replace(/\//g, '__')}.js`;

/**
 * Every `import('pkg')` of a bare package name (not a node: builtin, not a relative path) becomes a
 * tiny inlined module `module.exports = require('./lazy/<pkg>.js')`, so esbuild keeps it behind its
 * lazy wrapper (run when the import() is reached) and the require() stays CommonJS (no ESM loader,
 * named exports as the package has them). The packages seen are collected in `lazy`. A static import
 * of the same package elsewhere is still inlined (it is needed at start-up anyway). An
 * `import('node:x')` becomes `module.exports = require('node:x')` the same way: no import() is left
 * for the loader's vm.Script to fail on (assertNoDynamicImport).
 */
export function splitLazyPackages(lazy: Set<string>): Plugin {
  return {
    name: 'split-lazy-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.kind !== 'dynamic-import') return undefined;
        if (args.path.startsWith('node:')) return { path: args.path, namespace: 'lazy-builtin-import' };
        lazy.add(args.path);
        return { path: args.path, namespace: 'lazy-package' };
      });
      build.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(`./${lazyFileName(args.path)}`)});`,
      }));
      // The loader runs main.js as a vm.Script, where a real import() fails ("A dynamic import
      // callback was not specified"): a builtin imported on demand (node:tls) is required instead.
      build.onLoad({ filter: /.*/, namespace: 'lazy-builtin-import' }, (args) => ({
        loader: 'js',
        contents: `module.exports = require(${JSON.stringify(args.path)});`,
      }));
      build.onResolve({ filter: /^\.\/lazy\//, namespace: 'lazy-package' }, (args) => ({ path: args.path, external: true }));
    },
  };
}

/**
 * esbuild turns `import.meta.url` into undefined in CommonJS output; give it the real file URL.
 * Removed again from a bundle that never reads it (pathToFileURL at load costs ~1 ms).
 */
const IMPORT_META_URL_SHIM = 'var __import_meta_url=require("url").pathToFileURL(__filename).href;';

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
 * too, since an import() of an expression is not in the metafile.
 */
export function assertNoDynamicImport(name: string, file: string, metafile: Metafile): void {
  const fail = (detail: string) => {
    throw new BuildError(`build: ${name}: ${basename(file)} keeps an import() ${detail}, which the loader's vm.Script cannot run; import a package or a node: builtin by its name`);
  };
  for (const out of Object.values(metafile.outputs)) {
    const left = out.imports.filter((i) => i.kind === 'dynamic-import');
    if (left.length > 0) fail(`of ${left.map((i) => JSON.stringify(i.path)).join(', ')}`);
  }
  const code = readFileSync(file, 'utf8');
  const at = code.search(/(?<![\w$.])import\(/);
  if (at >= 0) fail(`near ${JSON.stringify(code.slice(Math.max(0, at - 30), at + 40))}`);
}

/** The bundle, its code cache, and the loader FC requires (handler `index.handler`). */
export const BUNDLE_FILE = 'main.js';
export const CODE_CACHE_FILE = 'main.js.cache';
/**
 * main.js is stored wrapped as Node wraps a CommonJS module (the wrapper head on a line of its own),
 * so the loader hands V8 the file's text as it is read: wrapping at load time would build a second
 * copy of the whole bundle in the young generation at every cold start.
 */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const WRAPPER_TAIL = '\n})';

/** Wraps the bundle in place (see WRAPPER_HEAD); its source map moves down the one line. */
export function wrapBundle(file: string): void {
  writeFileSync(file, WRAPPER_HEAD + readFileSync(file, 'utf8') + WRAPPER_TAIL);
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { mappings: string };
    map.mappings = `;${map.mappings}`;
    writeFileSync(mapFile, JSON.stringify(map));
  }
}
export const LOADER = `'use strict';
// Loads main.js (the bundle, stored wrapped as Node wraps a CommonJS module) with the V8 code cache
// built beside it; without a usable cache (another V8 build or other flags), V8 compiles main.js as
// require() would.
const { existsSync, readFileSync } = require('fs');
// serverless.yml has OpenSSL read the TLS roots from ${FC_CODE_DIR}/${ROOT_STORE_DIR} (scripts/root-store.ts).
// Code anywhere else reads those beside this file. OpenSSL reads the variables when the first TLS
// context is made, after this (or at start-up, before it, when NODE_EXTRA_CA_CERTS is set).
if (process.env.SSL_CERT_DIR === '${FC_CODE_DIR}/${ROOT_STORE_DIR}' && !existsSync('${FC_CODE_DIR}/${ROOT_STORE_DIR}')) {
  process.env.SSL_CERT_DIR = __dirname + '/${ROOT_STORE_DIR}';
  process.env.SSL_CERT_FILE = __dirname + '/${ROOT_STORE_DIR}/${NO_CERT_FILE}';
}
const { Script } = require('vm');
// The CommonJS Module class itself: require('module') would also load the ESM loader (~0.4 ms).
const Module = module.constructor;
const file = __dirname + '/${BUNDLE_FILE}';
let cachedData;
try { cachedData = readFileSync(__dirname + '/${CODE_CACHE_FILE}'); } catch { cachedData = undefined; }
const script = new Script(readFileSync(file, 'utf8'), { filename: file, cachedData });
const main = new Module(file, module);
main.filename = file;
main.paths = module.paths;
// This file sits beside main.js, so its own require resolves what main.js asks for (builtins,
// ./lazy/<pkg>.js) without Module.createRequire's cost.
script.runInThisContext().call(main.exports, main.exports, require, main, file, __dirname);
main.loaded = true;
module.exports = main.exports;
module.exports.codeCache = cachedData === undefined ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted';
`;

/**
 * Writes main.js.cache: a fresh plain \`node\` (no loader, flags as FC starts it) compiles main.js
 * exactly as LOADER does, initialises the module, runs the warm-up invocation when there is one
 * (its reply must be a 200: a warm-up that fails would cache an error path, and says the bundle or
 * the request is wrong), then asks V8 for the code of every function compiled so far.
 */
export async function writeCodeCache(dir: string, warmUp?: WarmUpInvocation): Promise<number> {
  const script = `
const { readFileSync, writeFileSync } = require('fs'); const { Script } = require('vm'); const Module = require('module');
const dir = process.argv[1]; const file = dir + '/${BUNDLE_FILE}';
const script = new Script(readFileSync(file, 'utf8'), { filename: file });
const main = new Module(file); main.filename = file; main.paths = Module._nodeModulePaths(dir);
script.runInThisContext().call(main.exports, main.exports, Module.createRequire(file), main, file, dir);
const event = process.argv[2];
const warm = event === undefined ? Promise.resolve() : Promise.resolve(main.exports.handler(Buffer.from(event), { requestId: 'build-warm-up' })).then((r) => {
  if (!r || r.statusCode !== 200) throw new Error('warm-up request answered ' + (r ? r.statusCode + ' ' + String(r.body).slice(0, 300) : String(r)));
});
warm.then(() => { writeFileSync(dir + '/${CODE_CACHE_FILE}', script.createCachedData()); process.exit(0); }, (e) => { console.error(e && e.message || e); process.exit(1); });`;
  const args = ['-e', script, dir, ...(warmUp ? [warmUp.event] : [])];
  try {
    await execFileAsync(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...warmUp?.env }, timeout: 60_000 });
  } catch (error) {
    const detail = ((error as { stderr?: string }).stderr || (error as Error).message).trim().split('\n').slice(-3).join(' ');
    throw new BuildError(`build: code cache for ${dir} failed: ${detail}`);
  }
  return statSync(join(dir, CODE_CACHE_FILE)).size;
}

export async function buildFunctions(opts: BuildOptions = {}): Promise<BuildResult> {
  const started = performance.now();
  const root = resolve(opts.root ?? REPO_ROOT);
  const outDir = resolve(opts.outDir ?? join(root, 'dist'));
  const log = opts.log ?? ((line: string) => console.log(line));
  const names = listFunctions(join(root, 'serverless.yml'));

  const missing = names.filter((n) => !existsSync(join(root, 'functions', n, 'handler.ts')));
  if (missing.length > 0 && !opts.allowMissing) {
    throw new BuildError(
      `serverless.yml lists function(s) with no handler: ${missing.map((n) => `functions/${n}/handler.ts`).join(', ')} ` +
        '(every function needs functions/<name>/handler.ts exporting `handler`; --allow-missing skips them)',
    );
  }
  for (const n of missing) log(`build: SKIPPED ${n} (functions/${n}/handler.ts does not exist; --allow-missing)`);

  const present = names.filter((n) => !missing.includes(n));
  const warmUp = opts.codeCache !== false && opts.warmUp !== false ? await startWarmUp(present) : undefined;
  try {
    const built = await Promise.all(
      present.map(async (name): Promise<BuiltFunction> => {
        const entry = join(root, 'functions', name, 'handler.ts');
        const dir = join(outDir, name);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        const outFile = join(dir, 'index.js');
        const bundleFile = join(dir, BUNDLE_FILE);
        const leftExternal = new Set<string>();
        const lazyPkgs = new Set<string>();
        const bundle = async (input: Pick<BuildOptionsEsbuild, 'entryPoints' | 'stdin'>, file: string, plugins: Plugin[]) => {
          try {
            return await esbuild({
              ...input,
              absWorkingDir: root,
              outfile: file,
              bundle: true,
              platform: 'node',
              target: 'node20',
              format: 'cjs',
              minify: true,
              sourcemap: 'external',
              metafile: true,
              logLevel: 'silent',
              legalComments: 'none',
              banner: { js: IMPORT_META_URL_SHIM },
              define: { 'import.meta.url': '__import_meta_url' },
              plugins: [lazyMiddyStreams(), ...plugins, optionalDependencyExternals(leftExternal)],
            });
          } catch (error) {
            const detail = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors
              ?.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
              .join('\n  ');
            throw new BuildError(`build: ${name} failed:\n  ${detail ?? String(error)}`);
          }
        };
        const result = await bundle({ entryPoints: [entry] }, bundleFile, [splitLazyPackages(lazyPkgs)]);
        assertNoDynamicImport(name, bundleFile, result.metafile as Metafile);
        dropUnusedShim(bundleFile);
        assertAsciiBundle(name, bundleFile);
        wrapBundle(bundleFile);
        const lazy: LazyFile[] = [];
        const inputs = Object.keys((result.metafile as Metafile).inputs);
        for (const pkg of [...lazyPkgs].sort()) {
          const file = join(dir, lazyFileName(pkg));
          // an entry that only re-exports the package, resolved from the function's own source folder
          const stdin = { contents: `module.exports = require(${JSON.stringify(pkg)});`, resolveDir: dirname(entry), loader: 'js' as const, sourcefile: `lazy:${pkg}` };
          const sub = await bundle({ stdin }, file, []);
          lazy.push({ pkg, file, bytes: statSync(file).size });
          inputs.push(...Object.keys((sub.metafile as Metafile).inputs));
        }
        for (const l of lazy) dropUnusedShim(l.file);
        writeFileSync(join(dir, 'meta.json'), JSON.stringify(result.metafile));
        writeFileSync(join(dir, 'package.json'), '{"type":"commonjs"}\n');
        writeFileSync(outFile, LOADER);
        writeRootStore(join(dir, ROOT_STORE_DIR));
        const warm = warmUp?.invocation(name);
        const cacheBytes = opts.codeCache === false ? 0 : await writeCodeCache(dir, warm);
        return {
          name,
          entry: relative(root, entry),
          outFile,
          bytes: statSync(outFile).size + statSync(bundleFile).size,
          cacheBytes,
          warmedUp: warm !== undefined,
          lazy,
          inputs: [...new Set(inputs)],
          warnings: [...result.warnings.map((w) => w.text), ...[...leftExternal].map((e) => `left external: ${e}`)],
        };
      }),
    );

    const show = (f: string) => {
      const rel = relative(process.cwd(), f);
      return rel.startsWith('..') ? f : rel;
    };
    for (const b of built) {
      const cache = b.cacheBytes ? `, code cache ${formatBytes(b.cacheBytes)}${b.warmedUp ? ' after a warm-up request' : ''}` : '';
      log(`build: ${b.name.padEnd(20)} ${formatBytes(b.bytes).padStart(9)}  ${show(b.outFile)} (+ ${BUNDLE_FILE}${cache})`);
      for (const l of b.lazy) log(`build:   lazy ${l.pkg.padEnd(15)} ${formatBytes(l.bytes).padStart(9)}  ${show(l.file)} (required on first use)`);
      for (const w of b.warnings) log(`build:   warning: ${w}`);
    }
    const millis = Math.round(performance.now() - started);
    log(`build: ${built.length} function(s) in ${millis} ms${missing.length ? `, ${missing.length} skipped` : ''}`);
    return { built, missing, millis };
  } finally {
    await warmUp?.close();
  }
}

export function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(2)} MB` : `${(n / 1024).toFixed(1)} KB`;
}

export function parseArgs(argv: string[]): BuildOptions & { quiet: boolean } {
  const out: BuildOptions & { quiet: boolean } = { quiet: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BuildError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--allow-missing') out.allowMissing = true;
    else if (arg === '--root') out.root = value();
    else if (arg === '--out') out.outDir = value();
    else if (arg === '--quiet') out.quiet = true;
    else if (arg === '--no-code-cache') out.codeCache = false;
    else if (arg === '--no-warm-up') out.warmUp = false;
    else throw new BuildError(`unknown argument ${arg} (use --allow-missing, --root <dir>, --out <dir>, --quiet, --no-code-cache, --no-warm-up)`);
  }
  return out;
}

async function main(): Promise<void> {
  try {
    const { quiet, ...opts } = parseArgs(process.argv.slice(2));
    await buildFunctions(quiet ? { ...opts, log: () => {} } : opts);
  } catch (error) {
    console.error(error instanceof BuildError ? error.message : error);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
