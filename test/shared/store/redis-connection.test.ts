import { writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, parseStoreUrl } from '../../../shared/store/index.ts';
import { encodeCommand, RedisConnection, ReplyError, ReplyReader, type Reply } from '../../../shared/store/redis-connection.ts';
import { REPO, run, TSX } from '../../serverless/support.ts';
import { findOnPath, freePort, startRedisServer, type RedisServer } from './redis-server.ts';
import { failInCIWithout } from '../../support/ci.ts';
import { makeTlsCert, type TlsCert } from '../../support/tls-front.ts';

/** Every reply in `bytes`, fed to one reader in the given chunk sizes. */
function readAll(bytes: Buffer, sizes: number[]): Reply[] {
  const reader = new ReplyReader();
  const out: Reply[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i += 1) {
    const n = Math.max(1, sizes.length ? sizes[i % sizes.length]! : bytes.length);
    reader.push(bytes.subarray(at, at + n));
    at += n;
    for (let r = reader.next(); r !== undefined; r = reader.next()) out.push(r);
  }
  return out;
}

/** A reply as RESP2 bytes, the way redis writes it. */
function encodeReply(r: Reply): string {
  if (r === null) return '$-1\r\n';
  if (typeof r === 'number') return `:${r}\r\n`;
  if (typeof r === 'string') return `$${Buffer.byteLength(r)}\r\n${r}\r\n`;
  if (r instanceof ReplyError) return `-${r.message}\r\n`;
  return `*${r.length}\r\n${r.map(encodeReply).join('')}`;
}

const replyArb: fc.Arbitrary<Reply> = fc.letrec<{ reply: Reply }>((tie) => ({
  reply: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.integer(),
    fc.string({ unit: 'grapheme' }),
    fc.constantFrom('a\r\nb', '\r\n', '$3\r\n', 'é中😀'),
    fc.array(tie('reply'), { maxLength: 4 }),
  ),
})).reply;

describe('RESP2 replies', () => {
  it('reads every kind of reply, whole or a byte at a time', () => {
    const bytes = Buffer.from('+OK\r\n-NOSCRIPT No matching script\r\n:42\r\n:-7\r\n$5\r\nhe\r\no\r\n$-1\r\n*-1\r\n*0\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n$0\r\n\r\n');
    const want = ['OK', new ReplyError('NOSCRIPT No matching script'), 42, -7, 'he\r\no', null, null, [], ['a', [1]], ''];
    for (const sizes of [[], [1], [2], [3, 1, 7]]) {
      const got = readAll(bytes, sizes);
      expect(got.map((r) => (r instanceof ReplyError ? `ERR:${r.message}` : r))).toEqual(want.map((r) => (r instanceof ReplyError ? `ERR:${r.message}` : r)));
    }
  });

  it('any reply, split anywhere, reads back as it was (multi-byte characters across chunks too)', () => {
    fc.assert(
      fc.property(fc.array(replyArb, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 9 }), { maxLength: 6 }), (replies, sizes) => {
        const bytes = Buffer.from(replies.map(encodeReply).join(''));
        const norm = (r: Reply): unknown => (r instanceof ReplyError ? { err: r.message } : Array.isArray(r) ? r.map(norm) : r);
        expect(readAll(bytes, sizes).map(norm)).toEqual(replies.map(norm));
      }),
      { numRuns: 300 },
    );
  });

  it('a reply that breaks the protocol throws, naming what is wrong', () => {
    for (const [bytes, msg] of [
      ['!3\r\nabc\r\n', 'unexpected reply type'],
      ['$x\r\n', 'bad length'],
      ['$2\r\nabcd\r\n', 'without CRLF'],
      ['+OK\rX', 'CR without LF'],
    ] as const) {
      const reader = new ReplyReader();
      reader.push(Buffer.from(bytes));
      expect(() => reader.next(), bytes).toThrow(msg);
    }
  });

  it('commands are arrays of bulk strings with byte lengths', () => {
    expect(encodeCommand(['SET', 'k', 'é\r\n'])).toBe('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\né\r\n\r\n');
    expect(encodeCommand([])).toBe('*0\r\n');
  });
});

const redisBin = findOnPath('redis-server');

describe.skipIf(!redisBin)('RedisConnection against a real redis-server', () => {
  let server: RedisServer;
  let raw: Redis;
  const opts = (port: number) => ({ host: '127.0.0.1', port, connectTimeoutMs: 1_000, commandTimeoutMs: 1_000 });
  beforeAll(async () => {
    server = await startRedisServer(redisBin!);
    raw = new Redis(server.port, '127.0.0.1');
  });
  afterAll(async () => {
    raw?.disconnect();
    await server?.stop();
  });

  it('pipelines 2,000 commands on one socket and gets each its own reply, in order', async () => {
    const conn = await RedisConnection.open(opts(server.port));
    const values = Array.from({ length: 1_000 }, (_, i) => `v${i}-${'é'.repeat(i % 7)}\r\n`);
    const sets = values.map((v, i) => conn.command(['SET', `pipe:${i}`, v]));
    const gets = values.map((_, i) => conn.command(['GET', `pipe:${i}`]));
    expect(await Promise.all(sets)).toEqual(values.map(() => 'OK'));
    expect(await Promise.all(gets)).toEqual(values);
    expect(await raw.get('pipe:999')).toBe(values[999]);
    await conn.quit();
    expect(conn.isOpen).toBe(false);
  });

  it('an error reply rejects that command only', async () => {
    const conn = await RedisConnection.open(opts(server.port));
    const [bad, good] = await Promise.allSettled([conn.command(['NOSUCHCOMMAND']), conn.command(['ECHO', 'x'])]);
    expect(bad).toMatchObject({ status: 'rejected', reason: { name: 'ReplyError', message: expect.stringContaining('unknown command') } });
    expect(good).toEqual({ status: 'fulfilled', value: 'x' });
    await conn.quit();
  });

  it('a server that accepts but never answers fails the open within the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const started = Date.now();
    await expect(RedisConnection.open({ ...opts(port), connectTimeoutMs: 300 })).rejects.toThrow('no connection within 300 ms');
    expect(Date.now() - started).toBeLessThan(1_500);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('a reply that does not come in time fails every pending command and the connection', async () => {
    const conn = await RedisConnection.open({ ...opts(server.port), commandTimeoutMs: 200 });
    const blocked = conn.command(['BLPOP', 'never-pushed', '5']);
    const behind = conn.command(['PING']);
    await expect(blocked).rejects.toThrow('timed out after 200 ms');
    await expect(behind).rejects.toThrow('timed out after 200 ms');
    expect(conn.isOpen).toBe(false);
    await expect(conn.command(['PING'])).rejects.toThrow('timed out');
  });

  it('a connection the server drops fails its pending commands; the store opens a new one', async () => {
    const store = await openStore(`${server.url}?namespace=drop:`);
    await store.put('k', 1);
    await raw.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    // The dropped connection may or may not be noticed before the next command: either way the
    // command after it works.
    await store.get('k').catch(() => undefined);
    expect((await store.get('k'))?.value).toBe(1);
    await store.close();
  });

  it('selects the database named in the URL path', async () => {
    const store = await openStore(`${server.url}/3?namespace=db:`);
    await store.put('k', 'in three');
    const three = new Redis(server.port, '127.0.0.1', { db: 3 });
    expect(await three.get('db:kv:k')).toBe(`${(await store.get('k'))!.version}\n"in three"`);
    expect(await raw.get('db:kv:k')).toBeNull();
    three.disconnect();
    await store.close();
  });

  it('refuses a URL path that is not a database number, and an unknown parameter, naming them, before connecting', async () => {
    await expect(openStore(`${server.url}/x`)).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('database number') });
    await expect(openStore(`${server.url}?nmaespace=x:`)).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringContaining('"nmaespace"') });
    // parseStoreUrl (what the local host and packaging check at start-up) refuses them the same way.
    expect(() => parseStoreUrl(`redis://:pw@127.0.0.1:1/x`)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining('database number') }));
    expect(() => parseStoreUrl(`redis://:pw@127.0.0.1:1?nmaespace=x:`)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringMatching(/redis:\/\/:\*\*\*@127\.0\.0\.1:1.*"nmaespace"/) }));
    // A namespace given twice: which one is meant is a guess, not the first silently.
    expect(() => parseStoreUrl(`redis://:pw@127.0.0.1:1?namespace=a:&namespace=b:`)).toThrow(expect.objectContaining({ code: 'CONFIG', message: expect.stringContaining('"namespace" is given more than once') }));
  });

  it('a database the server does not have is StoreError CONFIG (a wrong STORE_URL, not an outage)', async () => {
    const store = await openStore(`${server.url}/99`);
    await expect(store.get('k')).rejects.toMatchObject({ name: 'StoreError', code: 'CONFIG', message: expect.stringContaining('DB index is out of range') });
    await store.close();
  });

  describe('AUTH', () => {
    let locked: RedisServer;
    beforeAll(async () => {
      locked = await startRedisServer(redisBin!, undefined, ['--requirepass', 's3cret!']);
      const admin = new Redis(locked.port, '127.0.0.1', { password: 's3cret!' });
      await admin.call('ACL', 'SETUSER', 'app', 'on', '>app-pass', '~*', '+@all');
      admin.disconnect();
    });
    afterAll(() => locked?.stop());

    it('authenticates with a password, and with a user and password (ACL)', async () => {
      for (const url of [`redis://:${encodeURIComponent('s3cret!')}@127.0.0.1:${locked.port}`, `redis://app:app-pass@127.0.0.1:${locked.port}`]) {
        const store = await openStore(`${url}?namespace=auth:`);
        await store.put('k', url.length);
        expect((await store.get('k'))?.value).toBe(url.length);
        await store.close();
      }
    });

    it('a wrong password, or none, is StoreError CONFIG saying so (a wrong STORE_URL, not an outage), without the password', async () => {
      const store = await openStore(`redis://:not-it@127.0.0.1:${locked.port}`);
      const err = await store.get('k').catch((e: unknown) => e as Error);
      expect(err).toMatchObject({ name: 'StoreError', code: 'CONFIG', message: expect.stringMatching(/WRONGPASS|invalid password/) });
      expect((err as Error).message).toContain('check the user, password and database in STORE_URL');
      expect((err as Error).message).not.toContain('not-it');
      await store.close();
      const none = await openStore(`redis://127.0.0.1:${locked.port}`);
      await expect(none.put('k', 1)).rejects.toMatchObject({ name: 'StoreError', code: 'CONFIG', message: expect.stringContaining('NOAUTH') });
      await none.close();
    });
  });

  describe('rediss:// (TLS)', () => {
    const openssl = findOnPath('openssl');
    let tlsCert: TlsCert | undefined;
    let dir: string;
    let secure: RedisServer;
    let tlsPort: number;
    beforeAll(async () => {
      tlsCert = makeTlsCert(openssl, { name: 'localhost' });
      if (!tlsCert) return;
      dir = tlsCert.dir;
      tlsPort = await freePort();
      secure = await startRedisServer(redisBin!, undefined, ['--tls-port', String(tlsPort), '--tls-cert-file', tlsCert.caFile, '--tls-key-file', tlsCert.keyFile, '--tls-auth-clients', 'no']);
    });
    afterAll(async () => {
      await secure?.stop();
      tlsCert?.remove();
    });

    failInCIWithout(openssl, 'needs openssl on PATH when CI is set (CI installs it)', 'openssl not found on PATH, and CI is set: the TLS tests cannot make their certificate');

    it.skipIf(!openssl)('talks TLS to a server whose certificate it trusts, and refuses one it does not', async () => {
      const ca = tlsCert!.cert;
      const { openRedisStore } = await import('../../../shared/store/redis-store.ts');
      const store = await openRedisStore(`rediss://localhost:${tlsPort}?namespace=tls:`, { tls: { ca } });
      await store.put('k', 'over tls');
      expect((await store.get('k'))?.value).toBe('over tls');
      const plain = new Redis(secure.port, '127.0.0.1');
      expect(await plain.get('tls:kv:k')).toMatch(/\n"over tls"$/);
      plain.disconnect();
      await store.close();

      const untrusted = await openRedisStore(`rediss://localhost:${tlsPort}`, { connectTimeoutMs: 2_000 });
      await expect(untrusted.get('k')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringMatching(/self[- ]signed/i) });
      await untrusted.close();
    });

    // On FC a function has only STORE_URL: a private CA reaches it through NODE_EXTRA_CA_CERTS.
    it.skipIf(!openssl)('a function given only STORE_URL=rediss:// trusts the CA named by NODE_EXTRA_CA_CERTS', async () => {
      const script = [
        `const { openStore } = await import(${JSON.stringify(`${REPO}/shared/store/index.ts`)});`,
        'const s = await openStore();',
        "await s.put('k', 'via extra CA');",
        "process.stderr.write('RESULT ' + JSON.stringify((await s.get('k'))?.value) + '\\n');",
        'await s.close();',
      ].join('\n');
      const file = join(dir, 'extra-ca.mts');
      writeFileSync(file, script);
      const env = { PATH: process.env.PATH ?? '', STORE_URL: `rediss://localhost:${tlsPort}?namespace=extra-ca:` };
      const trusted = await run(TSX, [file], { cwd: REPO, env: { ...env, NODE_EXTRA_CA_CERTS: tlsCert!.caFile } });
      expect(trusted.output).toContain('RESULT "via extra CA"');
      const without = await run(TSX, [file], { cwd: REPO, env });
      expect(without.code).not.toBe(0);
      expect(without.output).toMatch(/UNAVAILABLE|self[- ]signed/i);
    }, 30_000);
  });
});
