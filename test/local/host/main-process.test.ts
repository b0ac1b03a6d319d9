import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY } from '../../../local/host/defaults.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { connectionOpenTo, exitWithin, putSandboxFaults, spawnMain, type MainProcess } from '../main-process.ts';
import { callRoute, eventually, fc2Client, httpTriggerEvent } from './support.ts';

// `npm start` as it runs: the real main in its own process, on free ports, with its embedded sandbox.
let storeDir: string;
let running: MainProcess | undefined;

beforeAll(() => {
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-main-'));
});
afterAll(() => rmSync(storeDir, { recursive: true, force: true }));
afterEach(() => {
  running?.kill();
  running = undefined;
});

async function startMain(env: Record<string, string> = {}): Promise<{ p: MainProcess; url: string; sandboxUrl: string }> {
  const p = spawnMain('local/host/main.ts', { PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'off', STORE_URL: `file:${storeDir}`, ...env });
  running = p;
  const [, url] = await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  const [, sandboxUrl] = await p.waitFor(/CAMS sandbox: (http:\/\/127\.0\.0\.1:\d+)/);
  await p.waitFor(/try: /);
  return { p, url: url!, sandboxUrl: sandboxUrl! };
}

/** POSTs `size` bytes of unsigned body and resolves with the status (or the error code when no reply came). */
/** `npm start` in its own process group (so whatever is left can be killed after the test), its output gathered. */
function npmStart(): { npm: ChildProcess; output: { text: string } } {
  const npm = spawn('npm', ['start'], {
    cwd: process.cwd(),
    env: { ...process.env, PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'off', STORE_URL: `file:${storeDir}`, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const output = { text: '' };
  npm.stdout!.on('data', (d: Buffer) => (output.text += d.toString()));
  npm.stderr!.on('data', (d: Buffer) => (output.text += d.toString()));
  return { npm, output };
}

function postLarge(url: string, size: number, chunked: boolean): Promise<{ status: number | string; body: string }> {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  return new Promise((resolve) => {
    const req = http.request(`${url}/waba/bind`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(size) }) },
    });
    let status: number | undefined;
    req.on('response', (res) => {
      status = res.statusCode!;
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: status!, body: Buffer.concat(parts).toString('utf8') }));
      res.on('error', () => resolve({ status: status!, body: Buffer.concat(parts).toString('utf8') }));
    });
    // Once the reply is in, the server closing on the rest of the upload is expected.
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (status === undefined) resolve({ status: e.code ?? e.message, body: '' });
    });
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('npm start (local/host/main.ts) as a process', () => {
  it('does not start with a value a function would refuse (MONITOR_QPS=abc): exit 1, the variable and the functions named', async () => {
    const p = spawnMain('local/host/main.ts', { PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'off', STORE_URL: `file:${storeDir}`, MONITOR_QPS: 'abc' });
    running = p;
    expect((await p.exited()).code).toBe(1);
    expect(p.output()).toMatch(/local host: serverless\.yml, as resolved from the environment:\n\s+MONITOR_QPS: must be a number of calls per second \(functions health-monitor, cams-events\)/);
    expect(p.output()).not.toMatch(/listening on/);
  });

  it('stops within 5 s of SIGTERM while idle, and never prints the STORE_URL password', async () => {
    const { p } = await startMain({ STORE_URL: 'redis://:Sup3rSecretPw@127.0.0.1:1/0' });
    expect(p.output()).toContain('store: redis://***@127.0.0.1:1/0');
    p.child.kill('SIGTERM');
    const e = await exitWithin(p, 5_000);
    expect(e.code).toBe(0);
    expect(p.output()).toContain('SIGTERM, stopping');
    expect(p.output()).not.toContain('Sup3rSecretPw');
  });

  it('exits within 5 s once the pipe it writes to is closed (npm start 2>&1 | head -1), without spinning', async () => {
    const { p, url } = await startMain();
    p.child.stdout.destroy();
    p.child.stderr.destroy();
    // Something to log: the request line goes to the closed pipe (EPIPE).
    await httpRequest(`${url}/health-report`).catch(() => undefined);
    const e = await exitWithin(p, 5_000);
    expect(e).toMatchObject({ code: 0, signal: null });
  });

  it('stops with exit code 0 within 5 s of SIGINT while requests are held open by a slow CAMS: a route answered 503, a sync invoke FC\'s failed-invocation reply', async () => {
    const { p, url, sandboxUrl } = await startMain();
    expect(await putSandboxFaults(sandboxUrl, { latencyMs: 30_000 })).toBe(200);
    expect(connectionOpenTo(p.child.pid!, Number(new URL(sandboxUrl).port))).toBe(false);
    const pending = callRoute(url, { method: 'POST', path: '/waba/bind', body: { WabaId: '1234567890' } }).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    const invoked = fc2Client(url, '1234567890123456', DEFAULT_API_KEY)
      .invokeFunction('cams-fc-dev', 'bind-waba', httpTriggerEvent('1234567890123456', '/waba/bind', { WabaId: '1234567891' }))
      .then(
        (r) => ({ errorType: r.headers['x-fc-error-type'], data: r.data }),
        (err: Error) => err.message,
      );
    // The function's CAMS call is in the sandbox, waiting out the latency.
    await eventually(() => connectionOpenTo(p.child.pid!, Number(new URL(sandboxUrl).port)), 10_000, 'the CAMS call');
    p.child.kill('SIGINT');
    const e = await exitWithin(p, 5_000);
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(p.output()).toContain('SIGINT, stopping');
    // The held requests were cut off after the grace period and told so, not left hanging.
    expect(await pending).toBe(503);
    expect(await invoked).toEqual({ errorType: 'UnhandledInvocationError', data: { errorType: 'HostStopping', errorMessage: expect.stringContaining('stop') } });
  });

  it('npm start: SIGTERM to npm itself (`timeout 60 npm start`, a process manager) stops the host too, none left behind', async () => {
    const { npm, output } = npmStart();
    try {
      const text = () => output.text;
      const url = await eventually(() => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text())?.[1], 30_000, 'the host listening');
      await eventually(() => text().includes('try: '), 30_000, 'the banner');
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      npm.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The host got the signal (npm → node), stopped and closed its port.
      await eventually(() => text().includes('SIGTERM, stopping'), 5_000, 'the host stopping');
      await eventually(() => httpRequest(`${url}/health-report`, { timeoutMs: 1000 }).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED'), 5_000, 'the port closed');
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the group is gone: nothing left behind
      }
    }
  });

  it('npm start: Ctrl-C (SIGINT to the whole process group, which npm forwards to the host again) stops cleanly with exit code 0', async () => {
    const { npm, output } = npmStart();
    try {
      await eventually(() => output.text.includes('try: '), 30_000, 'the banner');
      const exited = new Promise<number | null>((resolve) => npm.once('exit', (code) => resolve(code)));
      // As a terminal delivers Ctrl-C: to every process of the foreground group at once.
      process.kill(-npm.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      expect(output.text).toContain('SIGINT, stopping');
    } finally {
      try {
        process.kill(-npm.pid!, 'SIGKILL');
      } catch {
        // the group is gone: nothing left behind
      }
    }
  });

  it('stops with exit code 0 within 5 s of SIGTERM in the middle of a health-monitor sweep', async () => {
    const target = { CustSpaceId: 'cs-sweep', NodeType: 'waba', WabaId: '1234567890' };
    const { p, url, sandboxUrl } = await startMain({ MONITOR_TARGETS: JSON.stringify([target]) });
    expect(await putSandboxFaults(sandboxUrl, { latencyMs: 30_000 })).toBe(200);
    expect(connectionOpenTo(p.child.pid!, Number(new URL(sandboxUrl).port))).toBe(false);
    // The sweep a timer fires, started through the invoke API (Async: 202 now, the sweep runs on).
    const client = fc2Client(url, '1234567890123456', DEFAULT_API_KEY);
    const timerEvent = JSON.stringify({ triggerTime: new Date().toISOString(), triggerName: 'health-sweep', payload: '' });
    await client.invokeFunction('cams-fc-dev', 'health-monitor', timerEvent, { 'x-fc-invocation-type': 'Async' });
    await eventually(() => connectionOpenTo(p.child.pid!, Number(new URL(sandboxUrl).port)), 10_000, 'the sweep\'s CAMS call');
    p.child.kill('SIGTERM');
    const e = await exitWithin(p, 5_000);
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(p.output()).toContain('SIGTERM, stopping');
  });

  it('refuses 20 parallel 31 MB unsigned bodies with 413 while reading, the RSS rising by less than 50 MB', async () => {
    const { p, url } = await startMain();
    // Warm up the route once so that loading it is not counted.
    expect((await postLarge(url, 10, false)).status).toBe(401);
    const before = p.rssMiB();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, p.rssMiB())), 10);
    try {
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => postLarge(url, 31_000_000, i % 4 === 3)));
      for (const r of replies) {
        expect(r.status).toBe(413);
        expect(JSON.parse(r.body)).toMatchObject({ Code: 'RequestEntityTooLarge', Success: false, RequestId: expect.any(String) });
        expect(JSON.parse(r.body).Message).toContain('262144');
      }
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, p.rssMiB());
    expect(peak - before).toBeLessThan(50);
  });
});
