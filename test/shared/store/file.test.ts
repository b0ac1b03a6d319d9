import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeKey, keyFile } from '../../../shared/store/file-layout.ts';
import { FileStore } from '../../../shared/store/file-store.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';
import { openStore, StoreError, type Store } from '../../../shared/store/index.ts';
import { storeContract } from './contract.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/store-child.ts', import.meta.url));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cams-store-'));
}

describe('file store: contract', () => {
  storeContract(async () => {
    const dir = await tempDir();
    return {
      store: await openStore(`file:${dir}`),
      another: () => openStore(`file:${dir}`),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
});

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: string[];
  /** Resolves with the first stdout line matching. */
  line(match: (l: string) => boolean): Promise<string>;
  exit: Promise<number | null>;
}

function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, ...args], { cwd: repoRoot, stdio: 'pipe' });
  const lines: string[] = [];
  let stderr = '';
  const waiters: Array<{ match: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let buf = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.match(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    lines,
    exit,
    line: (match) =>
      new Promise<string>((resolve, reject) => {
        const found = lines.find(match);
        if (found !== undefined) return resolve(found);
        waiters.push({ match, resolve });
        void exit.then((code) => reject(new Error(`child exited (${code}) before the expected line; stderr:\n${stderr}`)));
      }),
  };
}

describe('file store: across processes', () => {
  let dir: string;
  const children: Child[] = [];
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('4 processes × 25 compare-and-set increments of one counter end at exactly 100', async () => {
    const workers = Array.from({ length: 4 }, () => startChild(['cas', dir, '25']));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.line((l) => l === 'ready')));
    for (const w of workers) w.proc.stdin.write('go\n');
    const codes = await Promise.all(workers.map((w) => w.exit));
    expect(codes).toEqual([0, 0, 0, 0]);
    const reports = workers.map((w) => JSON.parse(w.lines.at(-1)!) as { done: number; conflicts: number });
    expect(reports.map((r) => r.done)).toEqual([25, 25, 25, 25]);
    const store = await openStore(`file:${dir}`);
    expect((await store.get('counter'))?.value).toBe(100);
    await store.close();
    // The processes really raced (otherwise this test proves little).
    console.log(`cross-process CAS conflicts: ${reports.map((r) => r.conflicts).join(', ')}`);
  }, 60_000);

  it('3 processes × 40 slot reservations of one key: every slot distinct and an interval apart', async () => {
    const interval = 2;
    const workers = Array.from({ length: 3 }, () => startChild(['slots', dir, '40', String(interval)]));
    children.push(...workers);
    await Promise.all(workers.map((w) => w.line((l) => l === 'ready')));
    for (const w of workers) w.proc.stdin.write('go\n');
    expect(await Promise.all(workers.map((w) => w.exit))).toEqual([0, 0, 0]);
    const at = workers.flatMap((w) => (JSON.parse(w.lines.at(-1)!) as { at: number[] }).at).sort((a, b) => a - b);
    expect(at).toHaveLength(120);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(interval - 1e-6);
  }, 60_000);

  it('a lease held by a killed process stays held until its ttl, then can be taken', async () => {
    const holder = startChild(['lease', dir, 'leader', '1500', 'doomed']);
    children.push(holder);
    const report = JSON.parse(await holder.line((l) => l.startsWith('{'))) as { acquired: boolean; expiresAt: number };
    expect(report.acquired).toBe(true);
    holder.proc.kill('SIGKILL');
    await holder.exit;
    const store = await openStore(`file:${dir}`);
    try {
      expect(await store.acquireLease('leader', 5_000, 'heir')).toBeUndefined();
      let lease;
      const deadline = report.expiresAt + 3_000;
      while (!(lease = await store.acquireLease('leader', 5_000, 'heir')) && Date.now() < deadline) await sleep(50);
      expect(lease).toBeDefined();
      // Not before the dead holder's lease ran out (its expiresAt is measured from before its request).
      expect(Date.now()).toBeGreaterThanOrEqual(report.expiresAt);
      expect(lease!.owner).toBe('heir');
    } finally {
      await store.close();
    }
  }, 30_000);

  it('writers killed mid-write leave no lock that blocks others and no corrupt data', async () => {
    for (let round = 0; round < 3; round++) {
      const w = startChild(['hammer', dir]);
      children.push(w);
      await w.line((l) => l === 'ready');
      await sleep(150 + Math.random() * 200);
      w.proc.kill('SIGKILL');
      await w.exit;
      const store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 5_000 } });
      const before = (await store.get<number>('counter'))?.value ?? 0;
      const started = Date.now();
      const cur = await store.get<number>('counter');
      const v = await store.put('counter', before + 1, cur ? { ifVersion: cur.version } : { ifAbsent: true });
      expect(v).toBeTypeOf('string');
      expect(Date.now() - started).toBeLessThan(2_000); // a dead holder's lock is broken at once, not after a timeout
      expect((await store.get('counter'))?.value).toBe(before + 1);
      await store.close();
    }
    // Nothing left behind in locks/ (tmp/ may hold a killed writer's partial temp file, swept later).
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  }, 60_000);

  it('a flat store being moved into buckets by a process killed mid-move is finished by two opening at once: no key lost', async () => {
    // The layout before buckets: every key flat in kv/, named encodeKey(key).json.
    await mkdir(join(dir, 'kv'), { recursive: true });
    const expected: Record<string, number> = {};
    for (let i = 0; i < 4000; i++) {
      const key = [`watch/template:C1:t${i}/en`, `monitor/entity/template:C1:t${i}/en`, `monitor/owed/t${i}`, `plain${i}`][i % 4]!;
      expected[key] = i;
      await writeFile(join(dir, 'kv', `${encodeKey(key)}.json`), `${JSON.stringify({ key, version: '1.a', expiresAt: null, value: i })}\n`);
    }
    const flatLeft = async () => (await readdir(join(dir, 'kv'))).filter((n) => n.endsWith('.json')).length;
    const first = startChild(['read-all', dir]);
    children.push(first);
    // Kill it once it has moved a quarter of the files.
    while ((await flatLeft()) > 3000) await new Promise<void>((resolve) => setImmediate(resolve));
    first.proc.kill('SIGKILL');
    await first.exit;
    const left = await flatLeft();
    console.log(`flat files left by the killed mover: ${left} of 4000`);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(3000);
    const next = [startChild(['read-all', dir]), startChild(['read-all', dir])];
    children.push(...next);
    expect(await Promise.all(next.map((c) => c.exit))).toEqual([0, 0]);
    for (const c of next) expect(JSON.parse(c.lines.at(-1)!)).toEqual(expected);
    expect(await flatLeft()).toBe(0);
  }, 60_000);
});

describe('file store: locks', () => {
  let dir: string;
  let store: Store | undefined;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const lockFile = (key: string) => join(dir, 'locks', `k.${encodeKey(key)}.lock`);
  const deadPid = () => {
    const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    return Number(r.stdout);
  };

  it('a lock left by a dead process is broken', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 1_000 } });
    await writeFile(lockFile('k'), JSON.stringify({ pid: deadPid(), host: hostname(), token: 'dead', at: Date.now() }));
    expect(await store.put('k', 1)).toBeTypeOf('string');
    expect((await store.get('k'))?.value).toBe(1);
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });

  it('a lock held by a live process is respected until lockTimeoutMs (StoreError LOCK_TIMEOUT); reads go on', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 300 } });
    await store.put('k', 1);
    await writeFile(lockFile('k'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'live', at: Date.now() }));
    const started = Date.now();
    const err = await store.put('k', 2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('LOCK_TIMEOUT');
    expect((err as StoreError).message).toContain(`pid ${process.pid}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect((await store.get('k'))?.value).toBe(1);
    await rm(lockFile('k'));
    expect(await store.put('k', 2)).toBeTypeOf('string');
  });

  it('reserveSlot does not pass a slot lock held by a live process; it waits, then decides on the TAT', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 5_000 } });
    const first = await store.reserveSlot('hot', 1_000, 0);
    const slotLock = join(dir, 'locks', `s.${encodeKey('hot')}.lock`);
    await writeFile(slotLock, JSON.stringify({ pid: process.pid, host: hostname(), token: 'live', at: Date.now() }));
    let settled = false;
    const next = store.reserveSlot('hot', 1_000, Infinity).then((r) => ((settled = true), r));
    await sleep(150);
    expect(settled).toBe(false);
    await rm(slotLock);
    expect(await next).toMatchObject({ granted: true, at: first.at + 1_000 });
  });

  it('a lock older than staleLockMs is broken even when its pid is alive (pid reuse)', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 3_000, staleLockMs: 500 } });
    await writeFile(lockFile('k'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'old', at: Date.now() - 1_000 }));
    expect(await store.put('k', 1)).toBeTypeOf('string');
  });

  it('an unreadable lock file is judged by its age', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 2_000, staleLockMs: 300 } });
    await writeFile(lockFile('k'), 'garbage');
    const started = Date.now();
    expect(await store.put('k', 1)).toBeTypeOf('string');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('a dead breaker does not block breaking forever', async () => {
    store = await openStore(`file:${dir}`, { file: { lockTimeoutMs: 2_000 } });
    const dead = deadPid();
    await writeFile(lockFile('k'), JSON.stringify({ pid: dead, host: hostname(), token: 'dead', at: Date.now() }));
    await writeFile(lockFile('k').replace(/\.lock$/, '.break'), JSON.stringify({ pid: dead, host: hostname(), token: 'dead-breaker', at: Date.now() }));
    expect(await store.put('k', 1)).toBeTypeOf('string');
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
  });
});

describe('file store: on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('file names are safe, short, lower case, and leave no temp or lock files behind', async () => {
    const store = await openStore(`file:${dir}`);
    const keys = ['Upper/Case', '../../escape', 'a:b*c?"<>|', 'NUL', '🚀'.repeat(200), 'x'.repeat(1024), '.hidden'];
    for (const k of keys) await store.put(k, k);
    const names = await readdir(join(dir, 'kv'), { recursive: true });
    const files = names.filter((n) => n.endsWith('.json'));
    expect(files).toHaveLength(keys.length);
    for (const n of names) {
      for (const part of n.split('/')) {
        expect(part).toMatch(/^[a-z0-9._%~-]+$/);
        expect(Buffer.byteLength(part)).toBeLessThanOrEqual(200);
      }
    }
    expect(await readdir(join(dir, 'tmp'))).toEqual([]);
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
    expect(await readdir(dir)).toEqual(expect.arrayContaining(['kv', 'leases', 'locks', 'tmp']));
    await store.close();
  });

  it('listing an index reads its own bucket, not every key in the store', async () => {
    const store = await FileStore.open(dir, { fsync: false });
    for (let i = 0; i < 600; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => store.put(`monitor/entity/template:C1:t${i + j}/en`, i + j)));
      await Promise.all(Array.from({ length: 100 }, (_, j) => store.put(`watch/template:C1:t${i + j}/en`, i + j)));
    }
    for (const id of ['a', 'b', 'c']) await store.put(`monitor/owed/${id}`, 1);
    await store.put('monitor/owedx', 1); // same start, another bucket
    const before = store.entriesListed;
    expect((await store.list('monitor/owed/')).map((e) => e.key)).toEqual(['monitor/owed/a', 'monitor/owed/b', 'monitor/owed/c']);
    expect(store.entriesListed - before).toBe(3);
    // A prefix with one '/' cannot name one bucket: it reads kv/'s bucket names, then the buckets it matches.
    const mid = store.entriesListed;
    expect(await store.list('monitor/owed')).toHaveLength(4);
    expect(store.entriesListed - mid).toBe(4 /* buckets */ + 3 /* owed */ + 1 /* monitor/: monitor/owedx */);
    // The watch list: kv/'s bucket names, then its own bucket, not a directory per target.
    const watch = store.entriesListed;
    expect(await store.list('watch/')).toHaveLength(600);
    expect(store.entriesListed - watch).toBe(4 + 600);
    await store.close();
  });

  it('list and its pages answer as the in-memory store does for keys of every shape (buckets, long names, escapes)', async () => {
    const store = await FileStore.open(dir, { fsync: false });
    const reference = new MemoryStore();
    // A seeded generator: the same keys every run, of shapes that stress buckets and names.
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const alphabet = ['a', 'b', '/', '/', '/', '-', '%', 'é', '~', '.', 'Z'];
    const keys = new Set<string>(['a', 'a/', 'a/b/', 'a/b/c', '/', '//', '/a', `${'x'.repeat(190)}/y`, `q/${'w'.repeat(200)}/z`, `q/${'w'.repeat(200)}`]);
    while (keys.size < 160) keys.add(Array.from({ length: 1 + rand(7) }, () => alphabet[rand(alphabet.length)]).join(''));
    for (const k of keys) {
      await store.put(k, k);
      await reference.put(k, k);
    }
    const prefixes = new Set<string>(['', 'x', 'q/', `q/${'w'.repeat(150)}`, `q/${'w'.repeat(200)}/`, 'zzz']);
    for (const k of keys) for (let i = 0; i <= k.length; i += 1 + rand(3)) prefixes.add(k.slice(0, i));
    for (const p of prefixes) {
      expect((await store.list(p)).map((e) => e.key), p).toEqual((await reference.list(p)).map((e) => e.key));
      const page = { after: `${p}a`, limit: 3 };
      expect((await store.list(p, page)).map((e) => e.key), p).toEqual((await reference.list(p, page)).map((e) => e.key));
    }
    await store.close();
  });

  it('a store written before buckets is moved into them on open, by processes opening at once, losing nothing', async () => {
    // The earlier layout: every key flat in kv/, named encodeKey(key).json (long keys hashed).
    await mkdir(join(dir, 'kv'), { recursive: true });
    const keys = ['watch/t1', 'monitor/owed/w1', 'monitor/round/r/retry/t', 'plain', `long/${'k'.repeat(300)}`, 'é/ü/ß'];
    for (const [i, key] of keys.entries()) {
      const rec = { key, version: `${i + 1}.abc`, expiresAt: null, value: { i } };
      await writeFile(join(dir, 'kv', `${encodeKey(key)}.json`), `${JSON.stringify(rec)}\n`);
    }
    await writeFile(join(dir, 'kv', `${encodeKey('bad')}.json`), '{"key":"bad","vers'); // corrupt, name tells its key
    await writeFile(join(dir, 'kv', `${encodeKey(`bad/${'b'.repeat(300)}`)}.json`), '{"key":'); // corrupt, hashed name
    const stores = await Promise.all([openStore(`file:${dir}`), openStore(`file:${dir}`), openStore(`file:${dir}`)]);
    for (const s of stores) {
      for (const [i, key] of keys.entries()) expect(await s.get(key), key).toEqual({ value: { i }, version: `${i + 1}.abc` });
      expect((await s.list('monitor/')).map((e) => e.key)).toEqual(['monitor/owed/w1', 'monitor/round/r/retry/t']);
      await expect(s.get('bad')).rejects.toMatchObject({ name: 'StoreError', code: 'BACKEND' });
    }
    expect((await readdir(join(dir, 'kv'))).filter((n) => n.endsWith('.json'))).toEqual([]);
    expect(await readdir(join(dir, 'corrupt'))).toEqual([`${encodeKey(`bad/${'b'.repeat(300)}`)}.json`]);
    for (const s of stores) await s.close();
  });

  it('open() names the problem when an earlier version keeps writing flat keys into kv/ while it moves them', async () => {
    await mkdir(join(dir, 'kv'), { recursive: true });
    let writing = true;
    let n = 0;
    const oldWriter = () => {
      if (!writing) return;
      const key = `old${n++}`;
      writeFileSync(join(dir, 'kv', `${key}.json`), JSON.stringify({ key, version: '1.a', expiresAt: null, value: n }));
      setImmediate(oldWriter);
    };
    oldWriter();
    try {
      await expect(FileStore.open(dir)).rejects.toMatchObject({ name: 'StoreError', code: 'CONFIG', message: expect.stringContaining('earlier version') });
    } finally {
      writing = false;
    }
    // Once it stops, the store opens with every key it wrote.
    const store = await FileStore.open(dir);
    expect(await store.list('old')).toHaveLength(n);
    await store.close();
  });

  it('a bucket directory removed under a running store is made again by the next write', async () => {
    const store = await openStore(`file:${dir}`);
    await store.put('watch/a', 1);
    await rm(join(dir, 'kv', `${encodeKey('watch/')}.d`), { recursive: true });
    expect(await store.put('watch/b', 2)).toBeTypeOf('string');
    expect((await store.list('watch/')).map((e) => e.value)).toEqual([2]);
    await store.close();
  });

  it('stores a record with the key, version, expiry and value', async () => {
    const store = await openStore(`file:${dir}`);
    const v = await store.put('Rec', { a: 1 }, { ttlMs: 60_000 });
    const rec = JSON.parse(await readFile(join(dir, 'kv', keyFile('Rec')), 'utf8')) as Record<string, unknown>;
    expect(rec).toMatchObject({ key: 'Rec', version: v, value: { a: 1 } });
    expect(rec.expiresAt).toBeGreaterThan(Date.now());
    await store.close();
  });

  it('a corrupt file surfaces as StoreError BACKEND, not as a missing key', async () => {
    const store = await openStore(`file:${dir}`);
    await store.put('other', 1); // makes the root bucket
    await writeFile(join(dir, 'kv', keyFile('bad')), '{"key":"bad","vers');
    await expect(store.get('bad')).rejects.toMatchObject({ name: 'StoreError', code: 'BACKEND' });
    await store.close();
  });

  it('listing many keys gives the event loop turns between batches of reads, and pages stay exact', async () => {
    const store = await FileStore.open(dir, { fsync: false });
    for (let i = 0; i < 600; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => store.put(`many/${String(i + j).padStart(4, '0')}`, i + j)));
    await store.put('other/x', -1);
    const lists = [() => store.list<number>('many/'), () => store.list<number>('many/', { limit: 500 }), () => store.list<number>('many/', { after: 'many/0100', limit: 400 })];
    const expected = [Array.from({ length: 600 }, (_, i) => i), Array.from({ length: 500 }, (_, i) => i), Array.from({ length: 400 }, (_, i) => i + 101)];
    for (const [i, list] of lists.entries()) {
      // Reads are synchronous (small local files); a sweep paced by timers must still get turns.
      let turns = 0;
      let on = true;
      const tick = () => {
        if (!on) return;
        turns++;
        setImmediate(tick);
      };
      setImmediate(tick);
      const got = await list();
      on = false;
      expect(got.map((r) => r.value)).toEqual(expected[i]);
      expect(turns).toBeGreaterThanOrEqual(5);
    }
    await store.close();
  });

  it('sweepExpired removes expired keys and leases and keeps the rest', async () => {
    const store = (await openStore(`file:${dir}`)) as FileStore;
    await store.put('gone', 1, { ttlMs: 50 });
    await store.put('kept', 1);
    await store.put('later', 1, { ttlMs: 60_000 });
    await store.acquireLease('l', 50);
    await sleep(120);
    expect(await store.sweepExpired()).toBe(2);
    expect((await readdir(join(dir, 'kv', '_root.d'))).sort()).toEqual(['kept.json', 'later.json']);
    expect(await readdir(join(dir, 'leases'))).toEqual([]);
    await store.close();
  });

  it('writes sweep expired files in the background once per sweepIntervalMs', async () => {
    const store = await openStore(`file:${dir}`, { file: { sweepIntervalMs: 100 } });
    await store.put('gone', 1, { ttlMs: 20 });
    await sleep(150);
    await store.put('trigger', 1);
    await store.close(); // waits for the background sweep
    expect(await readdir(join(dir, 'kv', '_root.d'))).toEqual(['trigger.json']);
  });
});
