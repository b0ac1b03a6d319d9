import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS, parseSandboxKeys, parseSandboxQps, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { call } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('parseSandboxKeys', () => {
  it('parses id:secret pairs, a secret may contain ":"', () => {
    expect(parseSandboxKeys('a1:s1, b2:s:2')).toEqual([
      { accessKeyId: 'a1', accessKeySecret: 's1' },
      { accessKeyId: 'b2', accessKeySecret: 's:2' },
    ]);
  });

  it('rejects bad values with a message naming CAMS_SANDBOX_KEYS and not echoing the secret', () => {
    for (const spec of ['', 'justanid', ':secret', 'id:', 'a:topsecret,a:topsecret2', 'bad id:topsecret']) {
      let message = '';
      try {
        parseSandboxKeys(spec);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, spec).toContain('CAMS_SANDBOX_KEYS');
      expect(message, spec).not.toContain('topsecret');
    }
  });

  it('the documented defaults are two accounts, the first being the default pair', () => {
    expect(DEFAULT_SANDBOX_KEYS[0]).toEqual({ accessKeyId: 'LTAIsandbox0000000001', accessKeySecret: 'sandboxSecret0000000000000000001' });
    expect(DEFAULT_SANDBOX_KEYS[1]).toEqual({ accessKeyId: 'LTAIsandbox0000000002', accessKeySecret: 'sandboxSecret0000000000000000002' });
  });
});

describe('parseSandboxQps', () => {
  it('parses Action=N lists', () => {
    expect(parseSandboxQps('GetWhatsappHealthStatus=20, ChatappBindWaba=50')).toEqual({ GetWhatsappHealthStatus: 20, ChatappBindWaba: 50 });
    expect(parseSandboxQps('')).toEqual({});
  });

  it('rejects unknown actions and non-integers, naming CAMS_SANDBOX_QPS', () => {
    for (const spec of ['SendMessage=3', 'ChatappBindWaba=1.5', 'ChatappBindWaba', 'ChatappBindWaba=-1', 'ChatappBindWaba=x']) {
      expect(() => parseSandboxQps(spec), spec).toThrow(/CAMS_SANDBOX_QPS/);
    }
  });
});

interface Child {
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function runMain(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/sandbox/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return {
    output: () => out,
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
  };
}

async function waitFor(child: Child, re: RegExp): Promise<RegExpExecArray> {
  const until = Date.now() + 20_000;
  for (;;) {
    const m = re.exec(child.output());
    if (m) return m;
    if (Date.now() > until) throw new Error(`no ${re} in: ${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('npm run sandbox (local/sandbox/main.ts)', () => {
  it('starts from the environment, prints the URL and key ids but no custom secret, serves, stops on SIGTERM', async () => {
    const child = runMain({
      CAMS_SANDBOX_PORT: '0',
      CAMS_SANDBOX_HOST: '127.0.0.1',
      CAMS_SANDBOX_KEYS: 'LTAIcustom1:customSecretValue1,LTAIcustom2:customSecretValue2',
      CAMS_SANDBOX_QPS: 'GetWhatsappHealthStatus=20',
    });
    try {
      const m = await waitFor(child, /listening on (http:\/\/127\.0\.0\.1:(\d+))/);
      await waitFor(child, /GetWhatsappHealthStatus=20/);
      const sb = { url: m[1]!, port: Number(m[2]) } as RunningSandbox;
      const r = await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '42' }, key: { accessKeyId: 'LTAIcustom2', accessKeySecret: 'customSecretValue2' } });
      expect(r.json['Code']).toBe('OK');
      // The default keys are not active when CAMS_SANDBOX_KEYS is set.
      expect((await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '43' } })).json['Code']).toBe('InvalidAccessKeyId.NotFound');
      await waitFor(child, /ChatappBindWaba key=LTAIcustom2 -> 200 OK/);
      expect(child.output()).toContain('LTAIcustom1');
      expect(child.output()).not.toContain('customSecretValue');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await child.exited).toBe(0);
  });

  it('shows the documented default pair when no keys are configured, and stops on SIGINT', async () => {
    const child = runMain({ CAMS_SANDBOX_PORT: '0', CAMS_SANDBOX_KEYS: '', CAMS_SANDBOX_QPS: '' });
    try {
      await waitFor(child, /listening on/);
      await waitFor(child, /LTAIsandbox0000000001:sandboxSecret0000000000000000001 \(default account\)/);
    } finally {
      child.kill('SIGINT');
    }
    expect(await child.exited).toBe(0);
  });

  it('a bad variable stops start-up with a message naming it', async () => {
    const child = runMain({ CAMS_SANDBOX_PORT: '70000', CAMS_SANDBOX_QPS: 'Nope=1', CAMS_SANDBOX_KEYS: 'x' });
    expect(await child.exited).toBe(2);
    expect(child.output()).toContain('CAMS_SANDBOX_PORT');
    expect(child.output()).toContain('CAMS_SANDBOX_QPS');
    expect(child.output()).toContain('CAMS_SANDBOX_KEYS');
    expect(child.output()).not.toContain('listening');
  });
});
