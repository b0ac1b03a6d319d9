// scripts/build.ts on a throwaway fixture project (its own serverless.yml and functions/), so
// these tests do not depend on which real handlers exist yet.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError } from '../../scripts/build-error.ts';
import { buildFunctions, listFunctions, parseArgs } from '../../scripts/build.ts';
import { writeCodeCache } from '../../scripts/loader.ts';
import { removeDir, REPO, run, TSX } from '../serverless/support.ts';

let fixture: string;
const dirs: string[] = [];

function project(yml: string, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-build-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'serverless.yml'), yml);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

const YML = `service: fixture
functions:
  alpha:
    handler: index.handler
  beta:
    handler: index.handler
`;

const FILES = {
  'lib/greet.ts': "export const greet = (who: string): string => `hello ${who}`;\n",
  // a heavy dependency that must stay lazy: its top level runs only when import() is reached
  'lib/heavy.ts': [
    'const g = globalThis as { heavyLoads?: number };',
    'g.heavyLoads = (g.heavyLoads ?? 0) + 1;',
    "export const heavy = (): string => 'heavy';",
    '',
  ].join('\n'),
  'functions/alpha/handler.ts': [
    "import middy from '@middy/core';",
    "import { greet } from '../../lib/greet.ts';",
    'const here: string = import.meta.url;',
    'export const handler = middy(async (event: Buffer) => {',
    "  const { heavy } = await import('../../lib/heavy.ts');",
    '  return { greet: greet(String(event)), heavy: heavy(), here };',
    '});',
    '',
  ].join('\n'),
};

beforeAll(() => {
  fixture = project(YML, FILES);
});
afterAll(() => dirs.forEach(removeDir));

describe('listFunctions', () => {
  it('reads the function names of the real serverless.yml in order', () => {
    expect(listFunctions(join(REPO, 'serverless.yml'))).toEqual([
      'bind-waba', 'query-waba', 'add-phone-number', 'get-health-status',
      'health-monitor', 'health-report', 'silences', 'status-page', 'onboarding', 'onboarding-api', 'watch-list', 'cams-events',
    ]);
  });
});

describe('buildFunctions', () => {
  it('fails, naming the file, when a listed function has no handler.ts', async () => {
    await expect(buildFunctions({ root: fixture, outDir: join(fixture, 'dist'), log: () => {} })).rejects.toThrow(BuildError);
    await expect(buildFunctions({ root: fixture, outDir: join(fixture, 'dist'), log: () => {} })).rejects.toThrow(/functions\/beta\/handler\.ts/);
    expect(existsSync(join(fixture, 'dist', 'alpha', 'index.js'))).toBe(false);
  });

  it('with allowMissing, skips it and bundles the rest into self-contained CommonJS', async () => {
    const lines: string[] = [];
    const out = join(fixture, 'dist');
    const result = await buildFunctions({ root: fixture, outDir: out, allowMissing: true, log: (l) => lines.push(l) });
    expect(result.missing).toEqual(['beta']);
    expect(result.built.map((b) => b.name)).toEqual(['alpha']);
    expect(lines.join('\n')).toMatch(/SKIPPED beta/);
    expect(lines.join('\n')).toMatch(/build: alpha\s+[0-9.]+ KB/);
    expect(result.built[0]!.bytes).toBe(readFileSync(join(out, 'alpha', 'index.js')).length + readFileSync(join(out, 'alpha', 'main.js')).length);
    expect(result.built[0]!.cacheBytes).toBe(readFileSync(join(out, 'alpha', 'main.js.cache')).length);
    expect(result.built[0]!.inputs.some((i) => i.includes('@middy/core'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'alpha', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(JSON.parse(readFileSync(join(out, 'alpha', 'meta.json'), 'utf8')).inputs).toBeDefined();
    expect(existsSync(join(out, 'alpha', 'main.js.map'))).toBe(true);
    const code = readFileSync(join(out, 'alpha', 'main.js'), 'utf8');
    expect(code).not.toMatch(/require\(["']@middy\/core["']\)/);
    expect(code).not.toContain('sourceMappingURL');

    // load it the way FC does: require(), from a directory with no node_modules anywhere above
    const isolated = mkdtempSync(join(tmpdir(), 'cams-fc-run-'));
    dirs.push(isolated);
    for (const f of ['index.js', 'main.js', 'main.js.cache', 'package.json']) cpSync(join(out, 'alpha', f), join(isolated, f));
    const script = [
      'const m = require(process.argv[1]);',
      'const before = globalThis.heavyLoads ?? 0;',
      // middy's streaming-only imports must not load with the bundle (lazyMiddyStreams)
      "const streamsAtLoad = process.moduleLoadList.filter((x) => /^NativeModule stream(\\/web|\\/promises)?$/.test(x));",
      'm.handler(Buffer.from("fc"), {}).then((r) => {',
      '  console.log(JSON.stringify({ before, after: globalThis.heavyLoads, streamsAtLoad, r, codeCache: m.codeCache }));',
      '});',
    ].join('\n');
    const ran = await run(process.execPath, ['-e', script, join(isolated, 'index.js')], { cwd: isolated, env: { PATH: process.env.PATH ?? '' } });
    expect(ran.code, ran.output).toBe(0);
    const report = JSON.parse(ran.output) as { before: number; after: number; streamsAtLoad: string[]; r: { greet: string; heavy: string; here: string } };
    expect(report.streamsAtLoad).toEqual([]);
    expect(report.before).toBe(0);
    expect(report.after).toBe(1);
    expect(report.r.greet).toBe('hello fc');
    expect(report.r.heavy).toBe('heavy');
    expect(report.r.here).toBe(`file://${join(isolated, 'main.js')}`);
    expect((report as unknown as { codeCache: string }).codeCache).toBe('accepted');
  });

  it('leaves out an optional package a dependency requires but nobody installed, saying so; a missing required one fails', async () => {
    const dep = (name: string, pkgJson: object, body: string) => ({
      [`functions/theta/node_modules/${name}/package.json`]: JSON.stringify({ name, main: 'index.js', ...pkgJson }),
      [`functions/theta/node_modules/${name}/index.js`]: body,
    });
    const files = {
      'functions/theta/handler.ts': "import probe from 'uses-optional';\nexport const handler = async (): Promise<string> => probe();\n",
      ...dep('uses-optional', { optionalDependencies: { 'never-installed': '1.0.0' } }, "let x; try { x = require('never-installed'); } catch {}\nmodule.exports = () => (x ? 'with' : 'without');\n"),
    };
    const ok = project('functions:\n  theta:\n    handler: index.handler\n', files);
    const lines: string[] = [];
    const built = (await buildFunctions({ root: ok, outDir: join(ok, 'dist'), codeCache: false, log: (l) => lines.push(l) })).built[0]!;
    expect(built.leftExternal).toEqual(['never-installed (optional dependency of uses-optional, not installed)']);
    expect(built.warnings).toEqual([]);
    expect(lines.join('\n')).toContain('build:   left out (optional, not installed, required only when configured): never-installed');
    expect(lines.join('\n')).not.toContain('warning');
    const ran = await run(process.execPath, ['-e', 'require(process.argv[1]).handler().then((r) => console.log(r))', join(ok, 'dist', 'theta', 'index.js')]);
    expect(ran.output.trim()).toBe('without');

    const bad = project('functions:\n  theta:\n    handler: index.handler\n', {
      ...files,
      ...dep('uses-optional', {}, "module.exports = () => require('never-installed');\n"),
    });
    await expect(buildFunctions({ root: bad, outDir: join(bad, 'dist'), codeCache: false, log: () => {} })).rejects.toThrow(/never-installed/);
  });

  it('splits a package imported with import() into lazy/<pkg>.js, required on first use, self-contained', async () => {
    const lazyProject = project('functions:\n  delta:\n    handler: index.handler\n', {
      'functions/delta/handler.ts': [
        'export const handler = async (event: Buffer): Promise<string> => {',
        "  const { stringify } = await import('yaml');",
        '  return stringify({ got: String(event) });',
        '};',
        '',
      ].join('\n'),
    });
    const out = join(lazyProject, 'dist');
    const lines: string[] = [];
    const result = await buildFunctions({ root: lazyProject, outDir: out, log: (l) => lines.push(l) });
    const built = result.built[0]!;
    expect(built.lazy.map((l) => [l.pkg, l.file])).toEqual([['yaml', join(out, 'delta', 'lazy', 'yaml.js')]]);
    expect(lines.join('\n')).toMatch(/lazy yaml\s+[0-9.]+ KB\s+.*lazy\/yaml\.js \(required on first use\)/);
    // main.js holds a require of the split file, not the package
    const code = readFileSync(join(out, 'delta', 'main.js'), 'utf8');
    expect(code).toContain('require("./lazy/yaml.js")');
    expect(built.bytes).toBeLessThan(built.lazy[0]!.bytes / 10);
    // no import.meta.url in this function: the shim is gone, the source map still lines up
    expect(code).not.toContain('__import_meta_url');
    expect(Object.keys(JSON.parse(readFileSync(join(out, 'delta', 'meta.json'), 'utf8')).inputs).some((i) => i.includes('node_modules/yaml/'))).toBe(false);

    const isolated = mkdtempSync(join(tmpdir(), 'cams-fc-run-'));
    dirs.push(isolated);
    cpSync(join(out, 'delta'), isolated, { recursive: true });
    const script = [
      'const m = require(process.argv[1]);',
      'const atLoad = Object.keys(require.cache).some((f) => f.includes("lazy"));',
      'm.handler(Buffer.from("fc")).then((r) => console.log(JSON.stringify({ atLoad, after: Object.keys(require.cache).some((f) => f.includes("lazy")), r })));',
    ].join('\n');
    const ran = await run(process.execPath, ['-e', script, join(isolated, 'index.js')], { cwd: isolated, env: { PATH: process.env.PATH ?? '' } });
    expect(ran.code, ran.output).toBe(0);
    expect(JSON.parse(ran.output)).toEqual({ atLoad: false, after: true, r: 'got: fc\n' });
  });

  // The loader runs main.js as a vm.Script: a real import() there throws "A dynamic import callback
  // was not specified" when reached (on FC: the first https call, or rediss://).
  it('turns import() of a node: builtin into a require the loader can run, and refuses an import() it cannot run, naming it', async () => {
    const builtin = project('functions:\n  eta:\n    handler: index.handler\n', {
      'functions/eta/handler.ts': ['export const handler = async (): Promise<string> => {', "  const { EOL } = await import('node:os');", '  return JSON.stringify(EOL);', '};', ''].join('\n'),
    });
    const out = join(builtin, 'dist');
    await buildFunctions({ root: builtin, outDir: out, log: () => undefined });
    const script = 'const m = require(process.argv[1]); m.handler().then((r) => console.log(JSON.stringify({ r, codeCache: m.codeCache })), (e) => { console.error(String(e)); process.exit(1); });';
    const ran = await run(process.execPath, ['-e', script, join(out, 'eta', 'index.js')], { cwd: join(out, 'eta'), env: { PATH: process.env.PATH ?? '' } });
    expect(ran.code, ran.output).toBe(0);
    expect(JSON.parse(ran.output)).toEqual({ r: '"\\n"', codeCache: 'accepted' });

    const computed = project('functions:\n  theta:\n    handler: index.handler\n', {
      'functions/theta/handler.ts': ['export const handler = async (event: Buffer): Promise<unknown> => import(String(event));', ''].join('\n'),
    });
    await expect(buildFunctions({ root: computed, outDir: join(computed, 'dist'), log: () => undefined })).rejects.toThrow(/build: theta: main\.js keeps an import\(\) near ".*import\(String\(.*", which the loader's vm\.Script cannot run/);
  });

  it('loads through the V8 code cache; a rejected or missing cache only costs the cache, and stack lines stay true', async () => {
    const cached = project('functions:\n  eps:\n    handler: index.handler\n', {
      'functions/eps/handler.ts': [
        'export const handler = async (): Promise<string> => {',
        "  throw new Error('boom');",
        '};',
        '',
      ].join('\n'),
    });
    const out = join(cached, 'dist');
    await buildFunctions({ root: cached, outDir: out, log: () => {} });
    const script = [
      'const m = require(process.argv[1]);',
      'm.handler().catch((e) => {',
      '  const at = /main\\.js:(\\d+):(\\d+)/.exec(e.stack);',
      '  console.log(JSON.stringify({ codeCache: m.codeCache, line: Number(at[1]), col: Number(at[2]) }));',
      '});',
    ].join('\n');
    const probe = async () => {
      const r = await run(process.execPath, ['-e', script, join(out, 'eps', 'index.js')], { env: { PATH: process.env.PATH ?? '' } });
      expect(r.code, r.output).toBe(0);
      return JSON.parse(r.output) as { codeCache: string; line: number; col: number };
    };
    const main = readFileSync(join(out, 'eps', 'main.js'), 'utf8').split('\n');
    const accepted = await probe();
    expect(accepted.codeCache).toBe('accepted');
    // the position V8 reports is where `throw` / `new Error` is in main.js (the wrapper adds no offset)
    expect(main[accepted.line - 1]!.slice(accepted.col - 1)).toMatch(/^(new )?Error\(/);
    const cache = readFileSync(join(out, 'eps', 'main.js.cache'));
    cache.writeUInt32LE(0xdeadbeef, 4); // V8's header: version/flags hash -> rejected
    writeFileSync(join(out, 'eps', 'main.js.cache'), cache);
    const rejected = await probe();
    expect(rejected).toEqual({ ...accepted, codeCache: 'rejected' });
    rmSync(join(out, 'eps', 'main.js.cache'));
    expect(await probe()).toEqual({ ...accepted, codeCache: 'none' });
  });

  it('the loader loads no builtin beyond fs and vm (not `module`, which brings the ESM loader)', async () => {
    const dir = join(fixture, 'dist-loader');
    await buildFunctions({ root: fixture, outDir: dir, allowMissing: true, log: () => {} });
    // a script file, not -e: node -e has loaded `module` already
    const probe = join(dir, 'probe.cjs');
    writeFileSync(
      probe,
      [
        'const before = new Set(process.moduleLoadList);',
        'const m = require(process.argv[2]);',
        'console.log(JSON.stringify({ codeCache: m.codeCache, loaded: process.moduleLoadList.filter((x) => !before.has(x) && /^NativeModule (module|vm|fs)$/.test(x)) }));',
      ].join('\n'),
    );
    const r = await run(process.execPath, [probe, join(dir, 'alpha', 'index.js')], { env: { PATH: process.env.PATH ?? '' } });
    expect(r.code, r.output).toBe(0);
    expect(JSON.parse(r.output)).toEqual({ codeCache: 'accepted', loaded: ['NativeModule vm'] });
  });

  it('takes the code cache after the warm-up request when given one: it then also holds the code the request ran', async () => {
    const warm = project('functions:\n  zeta:\n    handler: index.handler\n', {
      // onRequest runs only when the handler is invoked, never at load
      'functions/zeta/handler.ts': [
        'function onRequest(event: { n: number }): number {',
        '  let total = 0;',
        '  for (let i = 0; i < event.n; i += 1) total += i % 7 === 0 ? i * 2 : i % 5 === 0 ? i * 3 : i % 3 === 0 ? i * 5 : i;',
        '  return total;',
        '}',
        'export const handler = async (event: Buffer) => ({ statusCode: Number(process.env.WARM_STATUS), body: String(onRequest(JSON.parse(String(event)))) });',
        '',
      ].join('\n'),
    });
    const out = join(warm, 'dist');
    const result = await buildFunctions({ root: warm, outDir: out, log: () => {} });
    expect(result.built[0]!.warmedUp).toBe(false);
    const dir = join(out, 'zeta');
    const initOnly = await writeCodeCache(dir);
    const warmed = await writeCodeCache(dir, { event: '{"n":10}', env: { WARM_STATUS: '200' } });
    expect(warmed).toBeGreaterThan(initOnly);
    const probe = await run(process.execPath, ['-e', 'const m = require(process.argv[1]); console.log(m.codeCache)', join(dir, 'index.js')], { env: { PATH: process.env.PATH ?? '' } });
    expect(probe.output.trim()).toBe('accepted');
    // a warm-up that does not answer 200 (here: its env did not reach it) fails the build, saying so
    await expect(writeCodeCache(dir, { event: '{"n":1}', env: {} })).rejects.toThrow(/code cache for .*zeta failed: .*warm-up request answered NaN/);
    await expect(writeCodeCache(dir, { event: '{"n":1}', env: { WARM_STATUS: '502' } })).rejects.toThrow(/warm-up request answered 502/);
  }, 60_000);

  it('reports compile errors with the file and line', async () => {
    const broken = project('functions:\n  gamma:\n    handler: index.handler\n', {
      'functions/gamma/handler.ts': "import { nope } from './missing.ts';\nexport const handler = nope;\n",
    });
    await expect(buildFunctions({ root: broken, log: () => {} })).rejects.toThrow(/gamma failed:[\s\S]*handler\.ts:1: Could not resolve/);
  });

  it('refuses a bundle that is not ASCII, naming the character (V8 would hold it as a two-byte string)', async () => {
    // esbuild escapes non-ASCII in strings, not in a regular expression literal like this one.
    const quote = project('functions:\n  delta:\n    handler: index.handler\n', {
      'functions/delta/handler.ts': "const ALLOWED = /^[a-z’]+$/u;\nexport const handler = async (e: string): Promise<boolean> => ALLOWED.test(e);\n",
    });
    await expect(buildFunctions({ root: quote, log: () => {}, codeCache: false })).rejects.toThrow(/delta: main\.js holds the non-ASCII character "’" near .*write it as a \\u escape/);
    const escaped = project('functions:\n  delta:\n    handler: index.handler\n', {
      'functions/delta/handler.ts': "const ALLOWED = /^[a-z\\u2019]+$/u;\nexport const handler = async (e: string): Promise<boolean> => ALLOWED.test(e);\n",
    });
    const { built } = await buildFunctions({ root: escaped, log: () => {}, codeCache: false });
    expect(built.map((b) => b.name)).toEqual(['delta']);
  });

  it('rejects a serverless.yml without functions or with names dist/ cannot use', async () => {
    const none = project('service: x\n', {});
    await expect(buildFunctions({ root: none, log: () => {} })).rejects.toThrow(/no "functions:" map/);
    const bad = project('functions:\n  Bad_Name:\n    handler: index.handler\n', {});
    await expect(buildFunctions({ root: bad, log: () => {} })).rejects.toThrow(/bad function name "Bad_Name"/);
  });
});

describe('the build CLI', () => {
  it('exits 1 with a clear message on a missing handler, 0 with --allow-missing', async () => {
    const failed = await run(TSX, [join(REPO, 'scripts/build.ts'), '--root', fixture, '--out', join(fixture, 'dist-cli')]);
    expect(failed.code).toBe(1);
    expect(failed.output).toMatch(/serverless\.yml lists function\(s\) with no handler: functions\/beta\/handler\.ts/);
    const ok = await run(TSX, [join(REPO, 'scripts/build.ts'), '--root', fixture, '--out', join(fixture, 'dist-cli'), '--allow-missing']);
    expect(ok.code, ok.output).toBe(0);
    expect(existsSync(join(fixture, 'dist-cli', 'alpha', 'index.js'))).toBe(true);
  }, 60_000);

  it('parses its arguments strictly', () => {
    expect(parseArgs(['--allow-missing', '--out', 'x', '--root', 'y', '--quiet'])).toEqual({ allowMissing: true, outDir: 'x', root: 'y', quiet: true });
    expect(parseArgs(['--no-warm-up', '--no-code-cache'])).toEqual({ quiet: false, warmUp: false, codeCache: false });
    expect(() => parseArgs(['--allow-mising'])).toThrow(/unknown argument --allow-mising/);
    expect(() => parseArgs(['--out'])).toThrow(/--out needs a value/);
  });
});
