// scripts/package.ts: arguments, offline environment, and a clear failure when bundles are missing.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { OFFLINE_ENV, packageService, parseArgs } from '../../scripts/package.ts';
import { makeServiceDir, removeDir, REPO, run, TSX, writeFakeDist } from '../serverless/support.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe('scripts/package.ts', () => {
  it('parses --stage and --dir, rejecting anything else', () => {
    expect(parseArgs([])).toEqual({});
    expect(parseArgs(['--stage', 'prod', '--dir', '/tmp/x'])).toEqual({ stage: 'prod', dir: '/tmp/x' });
    expect(parseArgs(['--stage=qa'])).toEqual({ stage: 'qa' });
    expect(() => parseArgs(['--stag', 'prod'])).toThrow(/unknown argument --stag/);
    expect(() => parseArgs(['--stage'])).toThrow(/--stage needs a value/);
    expect(() => parseArgs(['--stage', '../x'])).toThrow(/bad --stage "\.\.\/x" \(letters, digits, dashes\)/);
    expect(() => parseArgs(['--stage=a b'])).toThrow(/bad --stage/);
  });

  it('keeps serverless offline', () => {
    expect(OFFLINE_ENV).toEqual({ CI: 'true', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_DEPRECATION_DISABLE: '*' });
  });

  it('refuses a stage name serverless cannot use', async () => {
    await expect(packageService({ stage: 'no spaces', stdio: 'pipe' })).rejects.toThrow(/bad --stage/);
  });

  it('refuses a value a function would refuse (MONITOR_QPS), naming it, before serverless runs; an earlier s.yaml is removed', async () => {
    const dir = makeServiceDir('cams-fc-badvar-');
    dirs.push(dir);
    mkdirSync(join(dir, 'dist', 'fc3'), { recursive: true });
    writeFileSync(join(dir, 'dist', 's.yaml'), 'name: cams-fc-dev\n');
    mkdirSync(join(dir, '.serverless'));
    const r = await packageService({ dir, stdio: 'pipe', env: { MONITOR_QPS: 'abc' } });
    expect(r.exitCode).toBe(1);
    expect(r.refused).toBe(true);
    expect(r.output).toMatch(/MONITOR_QPS: must be a number of calls per second \(functions health-monitor, cams-events\)/);
    expect(existsSync(join(dir, 'dist', 's.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'dist', 'fc3'))).toBe(false);
    expect(existsSync(join(dir, '.serverless'))).toBe(false);
  });

  it('removes what an earlier packaging left when serverless itself fails (here: no bundles), so another stage\'s s.yaml cannot be deployed in its place', async () => {
    const dir = makeServiceDir('cams-fc-slsfail-');
    dirs.push(dir);
    mkdirSync(join(dir, 'dist', 'fc3'), { recursive: true });
    writeFileSync(join(dir, 'dist', 's.yaml'), 'name: cams-fc-dev\n');
    mkdirSync(join(dir, '.serverless'));
    const r = await packageService({ dir, stage: 'prod', stdio: 'pipe', env: { API_KEYS: 'caller:0123456789abcdef', STORE_URL: 'redis://r:6379/0', CAMS_RECEIPT_TOKEN: '0123456789abcdef0123' } });
    expect(r.exitCode).not.toBe(0);
    expect(r.refused).toBeUndefined();
    expect(r.output).toMatch(/index\.js not found/);
    expect(existsSync(join(dir, 'dist', 's.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'dist', 'fc3'))).toBe(false);
    expect(existsSync(join(dir, '.serverless'))).toBe(false);
    expect(r.output).toMatch(/from an earlier packaging were removed/);
  }, 60_000);

  it('says once that it removed an earlier packaging when the plugin refuses one (--stage prod with an empty API_KEYS)', async () => {
    const dir = makeServiceDir('cams-fc-refused-');
    dirs.push(dir);
    mkdirSync(join(dir, 'dist', 'fc3'), { recursive: true });
    writeFileSync(join(dir, 'dist', 's.yaml'), 'name: cams-fc-dev\n');
    const env = { ...process.env, API_KEYS: '', STORE_URL: 'redis://r:6379/0', CAMS_RECEIPT_TOKEN: '0123456789abcdef0123' };
    const times = (output: string) => output.split('from an earlier packaging were removed').length - 1;
    // as `npm run package` runs it (serverless's output passed on), and piped
    const cli = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', dir, '--stage', 'prod'], { env });
    expect(cli.code).not.toBe(0);
    expect(cli.output).toMatch(/API_KEYS is empty: .*stage "prod"/);
    expect(times(cli.output), cli.output).toBe(1);
    expect(existsSync(join(dir, 'dist', 's.yaml'))).toBe(false);
    const piped = await packageService({ dir, stage: 'prod', stdio: 'pipe', env: { API_KEYS: '', STORE_URL: 'redis://r:6379/0', CAMS_RECEIPT_TOKEN: '0123456789abcdef0123' } });
    expect(piped.exitCode).not.toBe(0);
    expect(times(piped.output), piped.output).toBe(1);
  }, 60_000);

  it('refuses a stage too long for the names it goes into, naming --stage and the limit, before the schema names a queue pattern', async () => {
    const dir = makeServiceDir('cams-fc-longstage-');
    dirs.push(dir);
    // 26 characters: before, it packaged, and RAM refused the plugin's invoke role at `serverless deploy`.
    const r = await packageService({ dir, stage: 'x'.repeat(26), stdio: 'pipe' });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain(
      "--stage is too long (26 characters): at most 25 here, as the FC 2.0 route's RAM invoke role (named by serverless-aliyun-function-compute), sls-cams-fc-<stage>-ap-southeast-1-invoke-role, would be 65 characters and may have at most 64",
    );
    // one past the MNS queue's limit too: still the name that allows the shortest stage, not the schema's queue pattern
    const long = await packageService({ dir, stage: 'x'.repeat(102), stdio: 'pipe' });
    expect(long.exitCode).not.toBe(0);
    expect(long.output).toContain('--stage is too long (102 characters): at most 25 here');
    expect(long.output).not.toMatch(/must match pattern/);
  }, 60_000);

  it('refuses a stage with capitals (the FC 2.0 logstore takes none), naming --stage and the rule; an earlier s.yaml is removed', async () => {
    const dir = makeServiceDir('cams-fc-upperstage-');
    dirs.push(dir);
    // bundles in place: before, it packaged both routes, and Log Service refused the logstore cams-fc-Prod at `serverless deploy`
    writeFakeDist(dir, Object.keys((parseYaml(readFileSync(join(dir, 'serverless.yml'), 'utf8')) as { functions: Record<string, unknown> }).functions));
    mkdirSync(join(dir, 'dist', 'fc3'), { recursive: true });
    writeFileSync(join(dir, 'dist', 's.yaml'), 'name: cams-fc-dev\n');
    const r = await packageService({ dir, stage: 'Prod', stdio: 'pipe', env: { API_KEYS: 'caller:0123456789abcdef', STORE_URL: 'redis://r:6379/0', CAMS_RECEIPT_TOKEN: '0123456789abcdef0123' } });
    expect(r.exitCode).not.toBe(0);
    expect(r.output).toContain('--stage "Prod" must be lowercase letters, digits and -, ending with a letter or digit (--stage prod)');
    expect(r.output).toContain("the FC 2.0 route's Log Service logstore, cams-fc-<stage>");
    expect(existsSync(join(dir, 'dist', 's.yaml'))).toBe(false);
    expect(existsSync(join(dir, '.serverless'))).toBe(false);
  }, 60_000);

  it('fails clearly when the function bundles were not built', async () => {
    const dir = makeServiceDir('cams-fc-nodist-');
    dirs.push(dir);
    const r = await run(TSX, [join(REPO, 'scripts/package.ts'), '--dir', dir]);
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/dist\/[a-z-]+\/index\.js not found\. Build the function bundles first: npm run build/);
    expect(r.output).toMatch(/package: serverless package failed/);
    expect(r.output).not.toMatch(/\n\s+at /); // a message, not a stack trace
  }, 60_000);
});
