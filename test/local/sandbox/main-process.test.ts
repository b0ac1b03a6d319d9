import { afterEach, describe, expect, it } from 'vitest';
import { httpRequest } from '../../../shared/http/request.ts';
import { connectionOpenTo, exitWithin, putSandboxFaults, spawnMain, type MainProcess } from '../main-process.ts';
import { eventually } from '../host/support.ts';
import { call, KEY_A } from './helpers.ts';

// `npm run sandbox` as it runs: the real main in its own process, on a free port.
let running: MainProcess | undefined;
afterEach(() => {
  running?.kill();
  running = undefined;
});

async function startMain(): Promise<{ p: MainProcess; url: string }> {
  const p = spawnMain('local/sandbox/main.ts', { CAMS_SANDBOX_PORT: '0' });
  running = p;
  const [, url] = await p.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
  await p.waitFor(/control API/);
  return { p, url: url! };
}

describe('npm run sandbox (local/sandbox/main.ts) as a process', () => {
  it('lists every control endpoint in its banner, each one served', async () => {
    const { p, url } = await startMain();
    const [, list] = p.output().match(/control API: http:\/\/127\.0\.0\.1:\d+\/__sandbox\/\{([^}]+)\}/) ?? [];
    const endpoints = list!.split(',');
    expect(endpoints).toEqual(expect.arrayContaining(['health', 'faults', 'calls', 'reset', 'phone', 'receipts', 'stats', 'receipts/push']));
    for (const e of endpoints) {
      const res = await httpRequest(`${url}/__sandbox/${e}`, { method: 'OPTIONS' });
      expect(res.status, e).not.toBe(404);
    }
  });

  it('exits within 5 s once the pipe it writes to is closed, instead of crashing', async () => {
    const { p, url } = await startMain();
    p.child.stdout.destroy();
    p.child.stderr.destroy();
    // Every CAMS call, even an unsigned one, is a log line: it goes to the closed pipe (EPIPE).
    await httpRequest(`${url}/?Action=ChatappBindWaba`, { method: 'POST' }).catch(() => undefined);
    const e = await exitWithin(p, 5_000);
    expect(e).toMatchObject({ code: 0, signal: null });
  });

  it('stops within 5 s of SIGTERM while a call waits out an injected latency', async () => {
    const { p, url } = await startMain();
    expect(await putSandboxFaults(url, { latencyMs: 30_000 })).toBe(200);
    expect(connectionOpenTo(p.child.pid!, Number(new URL(url).port))).toBe(false);
    const pending = call({ url, port: Number(new URL(url).port), close: async () => {} }, { action: 'ChatappBindWaba', params: { WabaId: '1234567890' }, key: KEY_A }).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    // The sandbox holds the call: the sandbox process has a connection on its own port.
    await eventually(() => connectionOpenTo(p.child.pid!, Number(new URL(url).port)), 10_000, 'the held call');
    p.child.kill('SIGTERM');
    const e = await exitWithin(p, 5_000);
    expect(e).toMatchObject({ code: 0, signal: null });
    expect(p.output()).toContain('SIGTERM, stopping');
    expect(await pending).toBeDefined();
  });
});
