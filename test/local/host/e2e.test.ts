import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callRoute } from './support.ts';

// `npm start` as a child process (node --import tsx local/host/main.ts, exactly what the script
// runs), driven over HTTP, then `npm run call` as a child process against it.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let child: ChildProcess;
let url: string;
let output = '';
let storeDir: string;
let exited: Promise<number | null>;

function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  // Whatever the test runner's shell has must not change the embedded defaults under test.
  for (const k of ['API_KEYS', 'CAMS_ENDPOINT', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'CAMS_SANDBOX_KEYS', 'HOST', 'CAMS_FC_URL']) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'local/cli/call.ts', ...args], { cwd: ROOT, env: childEnv({ CAMS_FC_URL: url }) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-e2e-'));
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
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(storeDir, { recursive: true, force: true });
});

describe('npm start (child process)', () => {
  it('prints its URL, routes, the sandbox, the default key pair and an example command', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toMatch(/POST \/waba\/bind\s+-> bind-waba/);
    expect(output).toMatch(/GET \/health-status\s+-> get-health-status/);
    expect(output).toMatch(/CAMS sandbox: http:\/\/127\.0\.0\.1:\d+/);
    expect(output).toContain('local-caller:local-caller-secret-0001');
    expect(output).toContain(`try: CAMS_FC_URL=${url} npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`);
  });

  it('binds a WABA, adds a phone number and reads its health over HTTP', async () => {
    const bound = await callRoute(url, { method: 'POST', path: '/waba/bind', body: { WabaId: '400000000000001' } });
    expect(bound.status).toBe(200);
    expect(bound.json).toMatchObject({ Code: 'OK', Success: true, Data: { WabaId: '400000000000001' } });
    const space = bound.json.Data!['CustSpaceId'] as string;

    const added = await callRoute(url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: '13900000001', VerifiedName: 'Acme Shop' } });
    expect(added.status).toBe(200);
    expect(added.json).not.toHaveProperty('Data'); // CAMS sends none for AddChatappPhoneNumber

    const health = await callRoute(url, { method: 'GET', path: '/health-status', query: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613900000001' } });
    expect(health.status).toBe(200);
    expect(health.json.Data).toMatchObject({ CanSendMessage: 'AVAILABLE' });
    expect(health.json.RequestId).toBe(health.headers['x-fc-request-id']);
  });

  it('npm run call: signs with the default pair, prints the status line and pretty JSON, exit 0 on 2xx', async () => {
    const { code, stdout, stderr } = await runCli(['POST', '/waba/bind', '{"WabaId":"400000000000002"}']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [status, ...rest] = stdout.trimEnd().split('\n');
    expect(status).toMatch(/^HTTP 200 OK {2}POST \/waba\/bind {2}\(x-fc-request-id 1-[0-9a-f]+-[0-9a-f]{24}\)$/);
    const json = JSON.parse(rest.join('\n'));
    expect(json).toMatchObject({ Code: 'OK', Success: true, Data: { WabaId: '400000000000002' } });
    expect(rest[1]).toBe(`  "RequestId": "${json.RequestId}",`); // pretty-printed
  });

  it('npm run call: a query in PATH, exit 1 on a non-2xx reply and on bad arguments', async () => {
    const q = await runCli(['GET', '/waba?CustSpaceId=not-mine']);
    expect(q.code).toBe(1);
    expect(q.stdout).toMatch(/^HTTP 404 Not Found {2}GET \/waba\?CustSpaceId=not-mine/);
    expect(JSON.parse(q.stdout.slice(q.stdout.indexOf('{')))).toMatchObject({ Code: 'Unknown.ResourceOwnerId' });

    const bad = await runCli(['POST', '/waba/bind', '{not json']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/JSON is not valid JSON[\s\S]*usage: npm run call -- METHOD PATH \[JSON\]/);
  });

  it('stops cleanly on SIGTERM', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('local host: SIGTERM, stopping');
  });
});
