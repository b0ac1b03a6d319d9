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
 * imports stay inside index.js behind esbuild's lazy wrapper (scripts/esbuild-plugins.ts); what is
 * done to esbuild's output before it ships is in scripts/bundle-output.ts.
 *
 * V8 code cache: the bundle is main.js; main.js.cache is V8's code for it, taken in a fresh `node`
 * after the module has initialised (so it holds the functions start-up runs, not only the top
 * level) and, for the CAMS functions, after one warm-up request against the embedded sandbox
 * (scripts/warm-up.ts), so it also holds what a first request runs; index.js is a small loader that
 * compiles main.js with that cache (scripts/loader.ts). V8 rejects a cache made by another V8 build
 * or with other flags: the loader then compiles as usual.
 *
 * Next to them: certs/, the TLS roots as an OpenSSL hashed directory (scripts/root-store.ts),
 * main.js.map (external source map), meta.json (esbuild metafile, for bundle analysis) and
 * package.json {"type": "commonjs"} so the bundle also loads with require() inside this ESM
 * repository. Source maps and meta.json are not deployed (serverless/cams-fc-plugin.js,
 * dist/<function>/.fcignore).
 */
import { build as esbuild, type BuildOptions as BuildOptionsEsbuild, type Metafile, type Plugin } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { BuildError } from './build-error.ts';
import { assertAsciiBundle, assertNoDynamicImport, dropUnusedShim, IMPORT_META_URL_SHIM } from './bundle-output.ts';
import { builtinImportsAsRequire, lazyFileName, lazyMiddyStreams, optionalDependencyExternals, splitLazyPackages } from './esbuild-plugins.ts';
import { BUNDLE_FILE, LOADER, wrapBundle, writeCodeCache } from './loader.ts';
import { ROOT_STORE_DIR, writeRootStore } from './root-store.ts';
import { startWarmUp } from './warm-up.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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
  /** esbuild's warnings. */
  warnings: string[];
  /** Optional packages a dependency requires on a path that never runs unless configured, left out (not installed). */
  leftExternal: string[];
}

export interface BuildResult {
  built: BuiltFunction[];
  missing: string[];
  millis: number;
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
    const built = await Promise.all(present.map((name) => buildOne(name, { root, outDir, codeCache: opts.codeCache !== false, warmUp })));

    const show = (f: string) => {
      const rel = relative(process.cwd(), f);
      return rel.startsWith('..') ? f : rel;
    };
    for (const b of built) {
      const cache = b.cacheBytes ? `, code cache ${formatBytes(b.cacheBytes)}${b.warmedUp ? ' after a warm-up request' : ''}` : '';
      log(`build: ${b.name.padEnd(20)} ${formatBytes(b.bytes).padStart(9)}  ${show(b.outFile)} (+ ${BUNDLE_FILE}${cache})`);
      for (const l of b.lazy) log(`build:   lazy ${l.pkg.padEnd(15)} ${formatBytes(l.bytes).padStart(9)}  ${show(l.file)} (required on first use)`);
      for (const w of b.warnings) log(`build:   warning: ${w}`);
      if (b.leftExternal.length) log(`build:   left out (optional, not installed, required only when configured): ${b.leftExternal.join(', ')}`);
    }
    const millis = Math.round(performance.now() - started);
    log(`build: ${built.length} function(s) in ${millis} ms${missing.length ? `, ${missing.length} skipped` : ''}`);
    return { built, missing, millis };
  } finally {
    await warmUp?.close();
  }
}

/** One function: its bundle, lazy packages, loader, TLS roots and code cache, in <outDir>/<name>/. */
async function buildOne(name: string, ctx: { root: string; outDir: string; codeCache: boolean; warmUp: Awaited<ReturnType<typeof startWarmUp>> | undefined }): Promise<BuiltFunction> {
  const { root, outDir } = ctx;
  const entry = join(root, 'functions', name, 'handler.ts');
  const dir = join(outDir, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const outFile = join(dir, 'index.js');
  const bundleFile = join(dir, BUNDLE_FILE);
  const leftExternal = new Set<string>();
  const lazyPkgs = new Set<string>();
  const bundle = (input: EsbuildInput, file: string, plugins: Plugin[]) => bundleOnce(name, root, input, file, [...plugins, optionalDependencyExternals(leftExternal)]);
  const result = await bundle({ entryPoints: [entry] }, bundleFile, [builtinImportsAsRequire(), splitLazyPackages(lazyPkgs)]);
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
  const warm = ctx.warmUp?.invocation(name);
  const cacheBytes = ctx.codeCache ? await writeCodeCache(dir, warm) : 0;
  return {
    name,
    entry: relative(root, entry),
    outFile,
    bytes: statSync(outFile).size + statSync(bundleFile).size,
    cacheBytes,
    warmedUp: warm !== undefined,
    lazy,
    inputs: [...new Set(inputs)],
    warnings: result.warnings.map((w) => w.text),
    leftExternal: [...leftExternal].sort(),
  };
}

type EsbuildInput = Pick<BuildOptionsEsbuild, 'entryPoints' | 'stdin'>;

/** One esbuild run as every function bundle is made (CommonJS for node20, minified, with a source map); a failure names the function. */
async function bundleOnce(name: string, root: string, input: EsbuildInput, file: string, plugins: Plugin[]) {
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
      plugins: [lazyMiddyStreams(), ...plugins],
    });
  } catch (error) {
    const detail = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors
      ?.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text))
      .join('\n  ');
    throw new BuildError(`build: ${name} failed:\n  ${detail ?? String(error)}`);
  }
}

function formatBytes(n: number): string {
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
