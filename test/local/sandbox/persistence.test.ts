import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseStageArg } from '../../../local/sandbox/config.ts';
import { hostSandboxDataDir, type RunningSandbox } from '../../../local/sandbox/server.ts';
import type { HealthEntity } from '../../../shared/cams/operations.ts';
import { bind, call, control, KEY_A, KEY_B, start } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cams-sandbox-state-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const health = (sb: RunningSandbox, params: Record<string, string>) => call(sb, { action: 'GetWhatsappHealthStatus', params });

describe('startSandbox({ dataDir })', () => {
  it('one sandbox at a time on a data dir: a second is refused while the first runs (this process named), and starts once it has closed', async () => {
    const first = await start({ dataDir: dir });
    await expect(start({ dataDir: dir })).rejects.toThrow(`the sandbox state ${join(dir, 'sandbox.json')} is in use by process ${process.pid} (this one: another sandbox on it)`);
    // Another directory is another state: no conflict.
    const other = await start({ dataDir: join(dir, 'other') });
    await other.close();
    await first.close();
    expect(readdirSync(dir)).toEqual(['other']);
    expect(readdirSync(join(dir, 'other'))).toEqual([]);
    const second = await start({ dataDir: dir });
    await second.close();
  });

  it('a lock an earlier process left under this one\'s pid (a container restarted after a kill: pids repeat) is taken over, not taken for this process\'s own', async () => {
    writeFileSync(join(dir, 'sandbox.lock'), String(process.pid));
    const sb = await start({ dataDir: dir });
    // Now it is this process's own: a second sandbox here is refused.
    await expect(start({ dataDir: dir })).rejects.toThrow(`is in use by process ${process.pid} (this one: another sandbox on it)`);
    // However the directory is named (here through a link): one state, one lock.
    symlinkSync(dir, `${dir}-link`);
    try {
      await expect(start({ dataDir: `${dir}-link` })).rejects.toThrow(`is in use by process ${process.pid} (this one: another sandbox on it)`);
    } finally {
      rmSync(`${dir}-link`);
    }
    await sb.close();
    expect(existsSync(join(dir, 'sandbox.lock'))).toBe(false);
  });

  it('closes cleanly when its data dir was removed while it ran (rm -rf .data, then Ctrl-C)', async () => {
    const sb = await start({ dataDir: join(dir, 'gone') });
    rmSync(join(dir, 'gone'), { recursive: true, force: true });
    await sb.close();
    // And a sandbox here may have that directory again.
    const again = await start({ dataDir: join(dir, 'gone') });
    await again.close();
  });

  it('a restart on the same data dir keeps spaces, phones, health, templates, review status and own WABAs', async () => {
    let sb = await start({ dataDir: dir });
    expect(sb.stateFile).toBe(join(dir, 'sandbox.json'));
    const space = await bind(sb, '500000001');
    const spaceB = await bind(sb, '500000002', KEY_B);
    expect((await call(sb, { action: 'AddChatappPhoneNumber', params: { CustSpaceId: space, Cc: '65', PhoneNumber: '90001234', VerifiedName: 'Acme' } })).json['Code']).toBe('OK');
    await control(sb, 'PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '6590001234', CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '141006' }] });
    await control(sb, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    await control(sb, 'PUT', '/__sandbox/waba', { CustSpaceId: spaceB, AccountReviewStatus: 'REJECTED' });
    await control(sb, 'PUT', '/__sandbox/own-waba', { AccessKeyId: KEY_A.accessKeyId, WabaId: '777000777' });
    await control(sb, 'PUT', '/__sandbox/receipts', { Url: 'http://127.0.0.1:9/cams/receipts?token=receipt-token-0123456789', DropRate: 0.25, Format: 'V1' });
    await sb.close();

    sb = await start({ dataDir: dir });
    try {
      // Same ids, same ownership: binding again is the same space, the other account is still refused.
      expect(await bind(sb, '500000001')).toBe(space);
      expect((await call(sb, { action: 'ChatappBindWaba', params: { WabaId: '500000001' }, key: KEY_B })).json['Code']).toBe('Unknown.ResourceOwnerId');
      const dup = await call(sb, { action: 'AddChatappPhoneNumber', params: { CustSpaceId: spaceB, Cc: '65', PhoneNumber: '90001234', VerifiedName: 'Acme' }, key: KEY_B });
      expect(dup.json['Code']).toBe('Phone.Exists');
      const phone = (await health(sb, { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '6590001234' })).json['Data'] as { CanSendMessage: string; Entities: HealthEntity[] };
      expect(phone.CanSendMessage).toBe('LIMITED');
      expect(phone.Entities[0]!.Errors).toEqual([{ ErrorCode: '141006' }]);
      expect((await health(sb, { CustSpaceId: space, NodeType: 'template', TemplateCode: 'order_update', Language: 'en_US' })).json['Code']).toBe('OK');
      const queriedB = await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: spaceB }, key: KEY_B });
      expect((queriedB.json['Data'] as { AccountReviewStatus: string }).AccountReviewStatus).toBe('REJECTED');
      expect(((await call(sb, { action: 'QueryChatappBindWaba', params: {} })).json['Data'] as { Id: string }).Id).toBe('777000777');
      // The receipt callback too, as CAMS keeps an account's (its token still never shown).
      expect((await control(sb, 'GET', '/__sandbox/receipts')).json).toMatchObject({ Url: 'http://127.0.0.1:9/cams/receipts?token=***', DropRate: 0.25, Format: 'V1' });
      // Written with temp file + rename: nothing else is left in the directory but the running sandbox's lock.
      expect(readdirSync(dir).sort()).toEqual(['sandbox.json', 'sandbox.lock']);

      // reset is a change like any other: it is saved.
      await control(sb, 'POST', '/__sandbox/reset');
    } finally {
      await sb.close();
    }
    sb = await start({ dataDir: dir });
    try {
      expect((await call(sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } })).json['Code']).toBe('Unknown.ResourceOwnerId');
      expect((await control(sb, 'GET', '/__sandbox/receipts')).json).toMatchObject({ Url: null });
    } finally {
      await sb.close();
    }
  });

  it('without dataDir nothing is written; a missing data dir is created', async () => {
    const sb = await start();
    await bind(sb, '500000003');
    await sb.close();
    expect(sb.stateFile).toBeUndefined();
    const nested = join(dir, 'a', 'b');
    const sb2 = await start({ dataDir: nested });
    await bind(sb2, '500000004');
    await sb2.close();
    expect(JSON.parse(readFileSync(join(nested, 'sandbox.json'), 'utf8'))).toMatchObject({ version: 1, spaces: [{ wabaId: '500000004' }] });
  });

  it('a state file that is not one refuses to start, naming the file (it is never overwritten)', async () => {
    writeFileSync(join(dir, 'sandbox.json'), '{"version":1,"spaces":[{"custSpaceId":1}]');
    await expect(start({ dataDir: dir })).rejects.toThrow(`${join(dir, 'sandbox.json')} is not valid JSON`);
    writeFileSync(join(dir, 'sandbox.json'), '{"version":2}');
    await expect(start({ dataDir: dir })).rejects.toThrow(/sandbox\.json is not a sandbox state file \(version/);
    expect(readFileSync(join(dir, 'sandbox.json'), 'utf8')).toBe('{"version":2}');
  });
});

describe('hostSandboxDataDir: the sandbox keeps its state beside the host records', () => {
  it('file store: its directory; the shared legacy ./.data: ./.data/<stage>; redis: ./.data/<stage>; memory: none', () => {
    expect(hostSandboxDataDir('file:/srv/records', 'dev', '/repo')).toBe('/srv/records');
    expect(hostSandboxDataDir('file:./.data/prod', 'prod', '/repo')).toBe('/repo/.data/prod');
    expect(hostSandboxDataDir('file:./.data', 'prod', '/repo')).toBe('/repo/.data/prod');
    expect(hostSandboxDataDir('file:.data', 'dev', '/repo')).toBe('/repo/.data/dev');
    expect(hostSandboxDataDir('redis://:pw@127.0.0.1:6379/0', 'dev', '/repo')).toBe('/repo/.data/dev');
    expect(hostSandboxDataDir('memory:', 'dev', '/repo')).toBeUndefined();
  });
});

describe('parseStageArg (npm run sandbox -- --stage <stage>)', () => {
  it('defaults to dev, takes --stage x and --stage=x, refuses anything else by name', () => {
    expect(parseStageArg([])).toBe('dev');
    expect(parseStageArg(['--stage', 'prod'])).toBe('prod');
    expect(parseStageArg(['--stage=qa-1'])).toBe('qa-1');
    expect(() => parseStageArg(['--stage'])).toThrow('--stage must be');
    expect(() => parseStageArg(['--stage', '../etc'])).toThrow('--stage must be');
    expect(() => parseStageArg(['--port', '1'])).toThrow('unknown argument "--port"');
  });
});

describe('npm run sandbox as a process', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  async function startProcess(args: string[]): Promise<{ child: ChildProcess; sb: RunningSandbox; output: () => string }> {
    // cwd is a scratch checkout: ./.data/<stage> lands there, node_modules is the repo's.
    if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'local/sandbox/main.ts'), ...args], {
      cwd: dir,
      env: { ...process.env, CAMS_SANDBOX_PORT: '0', CAMS_SANDBOX_KEYS: '', CAMS_SANDBOX_QPS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the sandbox did not start:\n${out}`)), 30_000);
      child.stdout!.on('data', () => {
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m && out.includes('control API')) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`the sandbox exited with ${code}:\n${out}`)));
    });
    const port = Number(new URL(url).port);
    return { child, sb: { url, port, close: async () => {} }, output: () => out };
  }

  it('SIGKILLed right after its replies: restarted, it has every change it acknowledged; --stage prod has its own', async () => {
    mkdirSync(join(dir, '.data'));
    const first = await startProcess([]);
    expect(first.output()).toContain(join(dir, '.data', 'dev', 'sandbox.json'));
    const space = await bind(first.sb, '600000001');
    const added = await call(first.sb, { action: 'AddChatappPhoneNumber', params: { CustSpaceId: space, Cc: '65', PhoneNumber: '80001234', VerifiedName: 'Acme' } });
    expect(added.json['Code']).toBe('OK');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startProcess(['--stage', 'dev']);
    const phone = await call(second.sb, { action: 'GetWhatsappHealthStatus', params: { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '6580001234' } });
    expect(phone.json['Code']).toBe('OK');
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));

    const prod = await startProcess(['--stage=prod']);
    expect((await call(prod.sb, { action: 'QueryChatappBindWaba', params: { CustSpaceId: space } })).json['Code']).toBe('Unknown.ResourceOwnerId');
    // prod's own directory holds its lock while it runs, and no state until a change.
    expect(readdirSync(join(dir, '.data', 'prod'))).toEqual(['sandbox.lock']);
    expect(readFileSync(join(dir, '.data', 'prod', 'sandbox.lock'), 'utf8')).toBe(String(prod.child.pid));
  }, 90_000);

  it('a second sandbox on the same stage (npm start beside npm run sandbox) is refused, naming the process that has it; once that one stops, it starts', async () => {
    mkdirSync(join(dir, '.data'));
    const first = await startProcess([]);
    const refused = await startProcess([]).then(
      () => 'started',
      (e: Error) => e.message,
    );
    expect(refused).toContain(`the sandbox state ${join(dir, '.data', 'dev', 'sandbox.json')} is in use by process ${first.child.pid}`);
    expect(refused).toMatch(/exited with [1-9]/);
    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));
    expect(existsSync(join(dir, '.data', 'dev', 'sandbox.lock'))).toBe(false);
    const second = await startProcess([]);
    expect(readFileSync(join(dir, '.data', 'dev', 'sandbox.lock'), 'utf8')).toBe(String(second.child.pid));
  }, 90_000);
});
