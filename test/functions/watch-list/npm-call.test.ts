import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `npm start` (the local host, from serverless.yml) as a child process, and `npm run call` against
// it, for the three watch-list routes.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let child: ChildProcess;
let url: string;
let output = '';
let storeDir: string;
let exited: Promise<number | null>;

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['API_KEYS', 'CAMS_ENDPOINT', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'CAMS_SANDBOX_KEYS', 'HOST', 'CAMS_FC_URL', 'STORE_URL']) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

function npmCall(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'local/cli/call.ts', ...args], { cwd: ROOT, env: childEnv({ CAMS_FC_URL: url }) });
    let stdout = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout }));
  });
}

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-wl-'));
  child = spawn(process.execPath, ['--import', 'tsx', 'local/host/main.ts'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'off', STORE_URL: `file:${storeDir}`, LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the host did not start:\n${output}`)), 30_000);
    const check = () => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m && output.includes('  try: ')) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`the host exited with ${code}:\n${output}`)));
  });
}, 40_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(storeDir, { recursive: true, force: true });
});

describe('npm run call with the watch-list routes', () => {
  it('the host lists them; POST, GET and DELETE work signed with the default key', async () => {
    expect(output).toMatch(/GET \/watch-list\s+-> watch-list/);
    expect(output).toMatch(/DELETE \/watch-list\s+-> watch-list/);
    const targets = JSON.stringify({ Targets: [{ CustSpaceId: 'C12345678901234', NodeType: 'phone', PhoneNumber: '8613800000000' }] });
    const posted = await npmCall(['POST', '/watch-list', targets]);
    expect(posted.code, posted.stdout).toBe(0);
    expect(posted.stdout).toMatch(/"Added": 1\b/);
    const listed = await npmCall(['GET', '/watch-list?PageSize=10']);
    expect(listed.code, listed.stdout).toBe(0);
    expect(listed.stdout).toMatch(/"PhoneNumber": "8613800000000"/);
    const bad = await npmCall(['POST', '/watch-list', '{"Targets":[{"CustSpaceId":"C12345678901234","NodeType":"phone"}]}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toContain('Targets.0.PhoneNumber');
    const removed = await npmCall(['DELETE', '/watch-list', targets]);
    expect(removed.code, removed.stdout).toBe(0);
    expect(removed.stdout).toMatch(/"Removed": 1\b/);
  }, 60_000);
});
