import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../shared/store/file-store.ts';
import { DEFAULT_STORE_URL, openStore, parseStoreUrl, StoreError } from '../../../shared/store/index.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { RedisStore } from '../../../shared/store/redis-store.ts';
import { redactUrlCredentials } from '../../../shared/log/redact.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

describe('parseStoreUrl', () => {
  it('reads file: URLs, relative to the working directory or absolute', () => {
    expect(DEFAULT_STORE_URL).toBe('file:./.data');
    expect(parseStoreUrl('file:./.data', '/srv/app')).toEqual({ kind: 'file', dir: resolve('/srv/app', '.data') });
    expect(parseStoreUrl('file:.data', '/srv/app')).toEqual({ kind: 'file', dir: resolve('/srv/app', '.data') });
    expect(parseStoreUrl('file:../state/x', '/srv/app')).toEqual({ kind: 'file', dir: resolve('/srv/state/x') });
    expect(parseStoreUrl('file:/var/lib/cams', '/srv/app')).toEqual({ kind: 'file', dir: '/var/lib/cams' });
    expect(parseStoreUrl('file:///var/lib/cams%20fc', '/srv/app')).toEqual({ kind: 'file', dir: '/var/lib/cams fc' });
    expect(parseStoreUrl('file://localhost/var/lib/x', '/srv/app')).toEqual({ kind: 'file', dir: '/var/lib/x' });
    expect(parseStoreUrl('FILE:/x', '/')).toEqual({ kind: 'file', dir: '/x' });
  });

  it('reads redis:// and rediss:// URLs and memory:', () => {
    expect(parseStoreUrl('redis://127.0.0.1:6379')).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379', redis: { host: '127.0.0.1', port: 6379, db: 0, tls: false, shown: 'redis://127.0.0.1:6379' } });
    expect(parseStoreUrl('rediss://u:p@r-abc.redis.rds.aliyuncs.com:6380/2?namespace=x:')).toMatchObject({ kind: 'redis' });
    expect(parseStoreUrl('memory:')).toEqual({ kind: 'memory' });
  });

  it.each([
    ['', 'STORE_URL is empty'],
    ['   ', 'STORE_URL is empty'],
    ['file:', 'STORE_URL "file:" names no directory'],
    ['file://otherhost/x', 'STORE_URL'],
    ['redis://', 'STORE_URL'],
    ['./.data', 'STORE_URL has no scheme'],
    ['postgres://admin:hunter2@db/x', 'STORE_URL has unsupported scheme "postgres:"'],
    ['http://x', 'unsupported scheme'],
    // A % of the password left as it is: "URI malformed" before, naming nothing.
    ['redis://u:hunter2%@h/0', 'STORE_URL redis://u:***@h/0: the password is not valid percent-encoding'],
    ['rediss://a%zz:hunter2@h/0', 'the user name is not valid percent-encoding'],
  ])('rejects %j with a StoreError CONFIG naming STORE_URL', (url, message) => {
    let err: unknown;
    try {
      parseStoreUrl(url);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('CONFIG');
    expect((err as StoreError).message).toContain(message);
    expect((err as StoreError).message).toContain('STORE_URL');
    expect((err as StoreError).message).not.toContain('hunter2');
  });
  it('refuses a password with white space or a \'"\' written as is, which a log line would print past the mask; percent-encoded it is read', () => {
    for (const [url, secret] of [
      ['redis://:my secret@127.0.0.1:6379', 'secret'],
      ['redis://:my\tsecret@127.0.0.1:6379', 'secret'],
      ['rediss://ops:pa"secret@r-abc.redis.rds.aliyuncs.com:6380', 'secret'],
      ['redis://ops one:secret1@127.0.0.1', 'secret1'],
    ] as const) {
      let err: unknown;
      try {
        parseStoreUrl(url);
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('CONFIG');
      expect((err as StoreError).message).toContain('STORE_URL');
      expect((err as StoreError).message).toContain('percent-encoded');
      expect((err as StoreError).message).not.toContain(secret);
    }
    const encoded = 'redis://:my%20pa%22ss@127.0.0.1:6379';
    expect(parseStoreUrl(encoded)).toMatchObject({ kind: 'redis', redis: { password: 'my pa"ss' } });
    expect(redactUrlCredentials(`store: ${encoded}`)).toBe('store: redis://***@127.0.0.1:6379');
  });
});

describe('openStore', () => {
  const dirs: string[] = [];
  const saved = process.env.STORE_URL;
  afterEach(async () => {
    if (saved === undefined) delete process.env.STORE_URL;
    else process.env.STORE_URL = saved;
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  it('chooses the adapter by scheme', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-open-'));
    dirs.push(dir);
    const f = await openStore(`file:${dir}`);
    expect(f).toBeInstanceOf(FileStore);
    expect((f as FileStore).root).toBe(dir);
    await f.close();
    const f2 = await openStore(pathToFileURL(dir).href);
    expect((f2 as FileStore).root).toBe(dir);
    await f2.close();
    const m = await openStore('memory:');
    expect(m).toBeInstanceOf(MemoryStore);
    await m.close();
    const r = await openStore('redis://127.0.0.1:1/0?namespace=abc:'); // lazyConnect: nothing connects yet
    expect(r).toBeInstanceOf(RedisStore);
    expect((r as RedisStore).namespace).toBe('abc:');
    await r.close();
  });

  it('uses STORE_URL when no URL is given, and rejects a bad one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-open-'));
    dirs.push(dir);
    process.env.STORE_URL = `file:${dir}`;
    const s = await openStore();
    expect((s as FileStore).root).toBe(dir);
    await s.close();
    process.env.STORE_URL = 'mongodb://x';
    await expect(openStore()).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('STORE_URL') });
  });

  it('never loads ioredis (the redis store speaks RESP itself), and loads node:tls only for rediss://', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cams-open-'));
    dirs.push(dir);
    const index = pathToFileURL(join(repoRoot, 'shared/store/index.ts')).href;
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const loaded = () => Object.keys(require.cache).some((k) => /[\\\\/]node_modules[\\\\/]ioredis[\\\\/]/.test(k));
      const { openStore } = await import(${JSON.stringify(index)});
      const s = await openStore(${JSON.stringify(`file:${dir}`)});
      await s.put('k', 1); await s.get('k'); await s.list(''); await (await s.acquireLease('l', 1000))?.release();
      await s.close();
      const afterFile = loaded();
      const tls = () => process.moduleLoadList.includes('NativeModule tls');
      const r = await openStore('redis://127.0.0.1:1');
      await r.get('k').catch(() => undefined);
      const afterRedis = loaded();
      const tlsAfterRedis = tls();
      await r.close();
      const t = await openStore('rediss://127.0.0.1:1');
      await t.get('k').catch(() => undefined);
      const tlsAfterRediss = tls();
      await t.close();
      console.log(JSON.stringify({ afterFile, afterRedis, tlsAfterRedis, tlsAfterRediss }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ afterFile: false, afterRedis: false, tlsAfterRedis: false, tlsAfterRediss: true });
  }, 30_000);
});
