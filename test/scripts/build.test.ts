// scripts/build.ts on a throwaway fixture project (its own serverless.yml and functions/), so
// these tests do not depend on which real handlers exist yet.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError, buildFunctions, listFunctions, parseArgs } from '../../scripts/build.ts';
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
      'health-monitor', 'health-report', 'silences', 'status-page', 'onboarding', 'onboarding-api',
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
    expect(result.built[0]!.bytes).toBe(readFileSync(join(out, 'alpha', 'index.js')).length);
    expect(result.built[0]!.inputs.some((i) => i.includes('@middy/core'))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'alpha', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
    expect(JSON.parse(readFileSync(join(out, 'alpha', 'meta.json'), 'utf8')).inputs).toBeDefined();
    expect(existsSync(join(out, 'alpha', 'index.js.map'))).toBe(true);
    const code = readFileSync(join(out, 'alpha', 'index.js'), 'utf8');
    expect(code).not.toMatch(/require\(["']@middy\/core["']\)/);
    expect(code).not.toContain('sourceMappingURL');

    // load it the way FC does: require(), from a directory with no node_modules anywhere above
    const isolated = mkdtempSync(join(tmpdir(), 'cams-fc-run-'));
    dirs.push(isolated);
    cpSync(join(out, 'alpha', 'index.js'), join(isolated, 'index.js'));
    cpSync(join(out, 'alpha', 'package.json'), join(isolated, 'package.json'));
    const script = [
      'const m = require(process.argv[1]);',
      'const before = globalThis.heavyLoads ?? 0;',
      // middy's streaming-only imports must not load with the bundle (lazyMiddyStreams)
      "const streamsAtLoad = process.moduleLoadList.filter((x) => /^NativeModule stream(\\/web|\\/promises)?$/.test(x));",
      'm.handler(Buffer.from("fc"), {}).then((r) => {',
      '  console.log(JSON.stringify({ before, after: globalThis.heavyLoads, streamsAtLoad, r }));',
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
    expect(report.r.here).toBe(`file://${join(isolated, 'index.js')}`);
  });

  it('reports compile errors with the file and line', async () => {
    const broken = project('functions:\n  gamma:\n    handler: index.handler\n', {
      'functions/gamma/handler.ts': "import { nope } from './missing.ts';\nexport const handler = nope;\n",
    });
    await expect(buildFunctions({ root: broken, log: () => {} })).rejects.toThrow(/gamma failed:[\s\S]*handler\.ts:1: Could not resolve/);
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
    expect(() => parseArgs(['--allow-mising'])).toThrow(/unknown argument --allow-mising/);
    expect(() => parseArgs(['--out'])).toThrow(/--out needs a value/);
  });
});
