/**
 * The store contract: one suite, run against every adapter (file.test.ts, redis.test.ts,
 * memory.test.ts). Call it inside a describe block.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { StoreError, update, type Lease, type Store } from '../../../shared/store/index.ts';

export interface StoreHarness {
  /** A store on an empty, isolated backend (fresh directory / namespace). */
  store: Store;
  /** Another, independent store object on the same backend (a second process, a second connection). */
  another(): Promise<Store>;
  cleanup?(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function storeContract(makeHarness: () => Promise<StoreHarness>): void {
  let h: StoreHarness;
  let s: Store;
  const extra: Store[] = [];
  const another = async () => {
    const o = await h.another();
    if (o !== s) extra.push(o);
    return o;
  };

  beforeEach(async () => {
    h = await makeHarness();
    s = h.store;
  });
  afterEach(async () => {
    for (const o of extra.splice(0)) await o.close();
    await s.close();
    await h.cleanup?.();
  });

  // ---- basics -----------------------------------------------------------------------------------

  it('get of a missing key is undefined', async () => {
    expect(await s.get('nope')).toBeUndefined();
  });

  it('put then get round-trips the value with the returned version', async () => {
    const v1 = await s.put('a', { n: 1 });
    expect(typeof v1).toBe('string');
    expect(v1).not.toBe('');
    expect(await s.get('a')).toEqual({ value: { n: 1 }, version: v1 });
    const v2 = await s.put('a', { n: 2 });
    expect(v2).not.toBe(v1);
    expect(await s.get('a')).toEqual({ value: { n: 2 }, version: v2 });
  });

  it('delete removes a key and reports whether there was one', async () => {
    await s.put('a', 1);
    expect(await s.delete('a')).toBe(true);
    expect(await s.get('a')).toBeUndefined();
    expect(await s.delete('a')).toBe(false);
    expect(await s.delete('never')).toBe(false);
  });

  it('values round-trip as JSON: nested, unicode, edge values', async () => {
    const values: unknown[] = [
      { a: { b: { c: [1, 2, { d: null }] } }, e: [], f: {}, g: '' },
      'héllo wörld — 你好 — 🚀👩‍👩‍👧 — \u0000 nul — line1\nline2\r\n\t"quoted" \\ backslash',
      0,
      -1.5e-7,
      Number.MAX_SAFE_INTEGER,
      true,
      false,
      null,
      [],
      [[[]]],
      { '': 'empty key', 'ключ': 'значение', '🔑': '🔒', 'a\nb': 'newline in name' },
      'x'.repeat(200_000),
    ];
    for (const [i, v] of values.entries()) {
      await s.put(`v${i}`, v);
      expect((await s.get(`v${i}`))?.value).toEqual(v);
    }
    // JSON semantics: dates become strings, undefined properties vanish.
    const d = new Date('2024-01-02T03:04:05.000Z');
    await s.put('date', { d, u: undefined });
    expect((await s.get('date'))?.value).toEqual({ d: '2024-01-02T03:04:05.000Z' });
  });

  it('stored values are copies, not shared objects', async () => {
    const obj = { n: 1, list: [1] };
    await s.put('o', obj);
    obj.n = 2;
    obj.list.push(2);
    const got = await s.get<{ n: number; list: number[] }>('o');
    expect(got?.value).toEqual({ n: 1, list: [1] });
    got!.value.n = 3;
    expect((await s.get('o'))?.value).toEqual({ n: 1, list: [1] });
  });

  it('keys may hold any characters and stay distinct (case, slashes, dots, unicode, long)', async () => {
    const keys = [
      'A', 'a', 'Ab', 'aB', 'a/b', 'a\\b', 'a:b', 'a b', '.', '..', '../etc/passwd', 'a%2Fb', 'a%2fb',
      'con', 'nul.txt', '*', '?', '[x]', 'ü', 'u\u0308', '你好', '🚀', 'tab\tnew\nline', '~', 'a~b',
      'L'.repeat(1000), 'l'.repeat(1000), 'é'.repeat(500), `${'p'.repeat(200)}1`, `${'p'.repeat(200)}2`,
    ];
    for (const k of keys) await s.put(k, k);
    for (const k of keys) expect((await s.get(k))?.value).toBe(k);
    const all = await s.list<string>('');
    expect(all.map((e) => e.key)).toEqual([...keys].sort());
    expect(all.every((e) => e.value === e.key)).toBe(true);
  });

  it('rejects bad input with TypeError', async () => {
    await expect(s.put('', 1)).rejects.toThrow(TypeError);
    await expect(s.get('')).rejects.toThrow(TypeError);
    await expect(s.put('k'.repeat(1025), 1)).rejects.toThrow(TypeError);
    await expect(s.put('\uD800', 1)).rejects.toThrow(TypeError);
    await expect(s.put('k', undefined)).rejects.toThrow(TypeError);
    await expect(s.put('k', () => 1)).rejects.toThrow(TypeError);
    await expect(s.put('k', 1, { ifAbsent: true, ifVersion: 'x' })).rejects.toThrow(TypeError);
    await expect(s.put('k', 1, { ttlMs: 0 })).rejects.toThrow(TypeError);
    await expect(s.put('k', 1, { ttlMs: -5 })).rejects.toThrow(TypeError);
    await expect(s.put('k', 1, { ttlMs: Number.NaN })).rejects.toThrow(TypeError);
    await expect(s.acquireLease('l', 0)).rejects.toThrow(TypeError);
    await expect(s.acquireLease('', 100)).rejects.toThrow(TypeError);
    expect(await s.get('k')).toBeUndefined();
  });

  // ---- conditional writes -----------------------------------------------------------------------

  it('compare-and-set succeeds with the current version and fails with a stale one', async () => {
    const v1 = await s.put('c', 1);
    const v2 = await s.put('c', 2, { ifVersion: v1 });
    expect(v2).toBeTypeOf('string');
    expect(v2).not.toBe(v1);
    expect(await s.put('c', 3, { ifVersion: v1 })).toBeUndefined();
    expect(await s.get('c')).toEqual({ value: 2, version: v2 });
    expect(await s.put('c', 3, { ifVersion: 'garbage' })).toBeUndefined();
    expect((await s.get('c'))?.value).toBe(2);
  });

  it('compare-and-set on a missing key fails and creates nothing', async () => {
    expect(await s.put('m', 1, { ifVersion: '1.abc' })).toBeUndefined();
    expect(await s.get('m')).toBeUndefined();
  });

  it('set-if-absent writes only when the key is absent', async () => {
    const v = await s.put('x', 'first', { ifAbsent: true });
    expect(v).toBeTypeOf('string');
    expect(await s.put('x', 'second', { ifAbsent: true })).toBeUndefined();
    expect(await s.get('x')).toEqual({ value: 'first', version: v });
    await s.delete('x');
    expect(await s.put('x', 'third', { ifAbsent: true })).toBeTypeOf('string');
    expect((await s.get('x'))?.value).toBe('third');
  });

  it('conditional delete honours the version', async () => {
    const v1 = await s.put('d', 1);
    const v2 = await s.put('d', 2);
    expect(await s.delete('d', { ifVersion: v1! })).toBe(false);
    expect((await s.get('d'))?.value).toBe(2);
    expect(await s.delete('d', { ifVersion: v2! })).toBe(true);
    expect(await s.get('d')).toBeUndefined();
    expect(await s.delete('d', { ifVersion: v2! })).toBe(false);
  });

  it('a version is never reused after delete and re-create (no ABA)', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const v = await s.put('aba', i);
      expect(seen.has(v!)).toBe(false);
      seen.add(v!);
      const stale = [...seen][0]!;
      if (i > 0) expect(await s.put('aba', -1, { ifVersion: stale })).toBeUndefined();
      await s.delete('aba');
    }
  });

  it('20 concurrent set-if-absent puts: exactly one wins, and its value is stored', async () => {
    const others = [s, await another(), await another()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => others[i % others.length]!.put('race', { winner: i }, { ifAbsent: true })),
    );
    const winners = results.flatMap((v, i) => (v === undefined ? [] : [i]));
    expect(winners).toHaveLength(1);
    expect(await s.get('race')).toEqual({ value: { winner: winners[0] }, version: results[winners[0]!] });
  });

  it('20 concurrent compare-and-sets from one version: exactly one wins', async () => {
    const v0 = await s.put('cas', 0);
    const others = [s, await another()];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => others[i % 2]!.put('cas', i + 1, { ifVersion: v0 })),
    );
    const winners = results.flatMap((v, i) => (v === undefined ? [] : [i]));
    expect(winners).toHaveLength(1);
    expect((await s.get('cas'))?.value).toBe(winners[0]! + 1);
  });

  it('update() retries compare-and-set: concurrent increments are never lost', async () => {
    const others = [s, await another()];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 5; i++) await update<number>(others[w % 2]!, 'counter', (n) => (n ?? 0) + 1);
      }),
    );
    expect((await s.get('counter'))?.value).toBe(40);
    // fn returning undefined leaves the key alone
    const before = await s.get('counter');
    expect(await update(s, 'counter', () => undefined)).toEqual(before);
    expect(await update(s, 'absent', () => undefined)).toBeUndefined();
    expect(await s.get('absent')).toBeUndefined();
  });

  it('a second store object on the same backend sees the same data', async () => {
    const o = await another();
    const v = await s.put('shared', { x: 1 });
    expect(await o.get('shared')).toEqual({ value: { x: 1 }, version: v });
    expect(await o.put('shared', { x: 2 }, { ifVersion: v })).toBeTypeOf('string');
    expect((await s.get('shared'))?.value).toEqual({ x: 2 });
  });

  // ---- TTL --------------------------------------------------------------------------------------

  it('a key with a TTL is present until it expires, then absent everywhere', async () => {
    const v = await s.put('t', 'soon gone', { ttlMs: 200 });
    await s.put('t-keep', 'stays');
    expect(await s.get('t')).toEqual({ value: 'soon gone', version: v });
    expect((await s.list('t')).map((e) => e.key)).toEqual(['t', 't-keep']);
    await sleep(400);
    expect(await s.get('t')).toBeUndefined();
    expect((await s.list('t')).map((e) => e.key)).toEqual(['t-keep']);
    expect(await s.delete('t')).toBe(false);
    expect(await s.delete('t', { ifVersion: v! })).toBe(false);
    expect(await s.put('t', 'cas on expired', { ifVersion: v })).toBeUndefined();
    expect(await s.get('t')).toBeUndefined();
    expect(await s.put('t', 'again', { ifAbsent: true })).toBeTypeOf('string');
    expect((await s.get('t'))?.value).toBe('again');
  });

  it('a put without ttl clears an earlier TTL; a put with ttl sets a new one', async () => {
    await s.put('p', 1, { ttlMs: 120 });
    await s.put('p', 2);
    await s.put('q', 1);
    const vq = await s.get('q');
    await s.put('q', 2, { ttlMs: 120, ifVersion: vq!.version });
    await sleep(300);
    expect((await s.get('p'))?.value).toBe(2);
    expect(await s.get('q')).toBeUndefined();
  });

  it('a compare-and-set can refresh a TTL', async () => {
    let v = await s.put('r', 0, { ttlMs: 200 });
    for (let i = 1; i <= 4; i++) {
      await sleep(100);
      v = await s.put('r', i, { ifVersion: v, ttlMs: 200 });
      expect(v).toBeTypeOf('string');
    }
    expect((await s.get('r'))?.value).toBe(4);
  });

  // ---- list -------------------------------------------------------------------------------------

  it('list returns exactly the keys with the prefix, sorted, with values and versions', async () => {
    const vs: Record<string, string | undefined> = {};
    for (const k of ['node/waba/2', 'node/waba/10', 'node/phone/1', 'node/waba/1', 'nodes', 'alert/x', 'node']) {
      vs[k] = await s.put(k, { k });
    }
    const got = await s.list<{ k: string }>('node/waba/');
    expect(got).toEqual(
      ['node/waba/1', 'node/waba/10', 'node/waba/2'].map((k) => ({ key: k, value: { k }, version: vs[k] })),
    );
    expect((await s.list('node')).map((e) => e.key)).toEqual([
      'node', 'node/phone/1', 'node/waba/1', 'node/waba/10', 'node/waba/2', 'nodes',
    ]);
    expect((await s.list('node/')).map((e) => e.key)).toHaveLength(4);
    expect(await s.list('zzz')).toEqual([]);
    expect((await s.list('')).map((e) => e.key)).toHaveLength(7);
  });

  it('list treats glob and regex characters in the prefix literally', async () => {
    const keys = ['a*', 'a*b', 'ab', 'a?', 'ac', 'a[b]', 'ab]', 'a\\', 'a\\b', 'a.b', 'axb', 'a%', 'a%b', 'a^$|+()'];
    for (const k of keys) await s.put(k, k);
    expect((await s.list('a*')).map((e) => e.key)).toEqual(['a*', 'a*b']);
    expect((await s.list('a?')).map((e) => e.key)).toEqual(['a?']);
    expect((await s.list('a[b]')).map((e) => e.key)).toEqual(['a[b]']);
    expect((await s.list('a[')).map((e) => e.key)).toEqual(['a[b]']);
    expect((await s.list('a\\')).map((e) => e.key)).toEqual(['a\\', 'a\\b']);
    expect((await s.list('a.')).map((e) => e.key)).toEqual(['a.b']);
    expect((await s.list('a%')).map((e) => e.key)).toEqual(['a%', 'a%b']);
    expect((await s.list('a^$|+(')).map((e) => e.key)).toEqual(['a^$|+()']);
    expect((await s.list('a')).map((e) => e.key)).toEqual([...keys].sort());
  });

  it('list by a unicode or long prefix', async () => {
    const long = 'é'.repeat(300);
    for (const k of ['你好/1', '你好/2', '你', `${long}a`, `${long}b`, `${long.slice(0, 299)}x`]) await s.put(k, 1);
    expect((await s.list('你好')).map((e) => e.key)).toEqual(['你好/1', '你好/2']);
    expect((await s.list(long)).map((e) => e.key)).toEqual([`${long}a`, `${long}b`]);
    expect(await s.list(`${long}c`)).toEqual([]);
    expect((await s.list(long.slice(0, 10))).map((e) => e.key)).toHaveLength(3);
  });

  it('list orders keys by code point (UTF-8 byte order), in pages too, and a prefix never reaches past its keys', async () => {
    // UTF-16 order (JavaScript's <) would put 🚀 and U+10FFFF (surrogate pairs) before U+E000 and U+FFFF.
    const keys = ['o/\uffff', 'o/🚀', 'o/\ue000', 'o/a', 'o/\u{10ffff}', 'o/\ud7ff', 'o/\ud7ffz', 'o/a\u{10ffff}'];
    for (const k of keys) await s.put(k, k);
    await s.put('o0', 'after o/'); // the key just past the prefix's range
    await s.put('o/b', 'after o/a');
    const byCodePoint = [...keys, 'o/b'].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect((await s.list('o/')).map((e) => e.key)).toEqual(byCodePoint);
    const walked: string[] = [];
    for (let after: string | undefined; ; ) {
      const page = await s.list('o/', { ...(after !== undefined ? { after } : {}), limit: 2 });
      walked.push(...page.map((e) => e.key));
      if (page.length < 2) break;
      after = page[1]!.key;
    }
    expect(walked).toEqual(byCodePoint);
    expect((await s.list('o/', { after: 'o/\uffff' })).map((e) => e.key)).toEqual(byCodePoint.slice(byCodePoint.indexOf('o/\uffff') + 1));
    expect((await s.list('o/\ud7ff')).map((e) => e.key)).toEqual(['o/\ud7ff', 'o/\ud7ffz']);
    expect((await s.list('o/a')).map((e) => e.key)).toEqual(['o/a', 'o/a\u{10ffff}']);
    expect((await s.list('o/a\u{10ffff}')).map((e) => e.key)).toEqual(['o/a\u{10ffff}']);
    expect((await s.list('o/\u{10ffff}')).map((e) => e.key)).toEqual(['o/\u{10ffff}']);
  });

  it('list pages: after/limit walk the prefix in key order, each key once, with values', async () => {
    const long = 'é'.repeat(300);
    const keys = ['p/1', 'p/10', 'p/2', 'p/a%b', 'p/你', `p/${long}a`, `p/${long}b`];
    const vs: Record<string, string | undefined> = {};
    for (const k of keys) vs[k] = await s.put(k, { k });
    await s.put('q/1', 1);
    await s.put('p/gone', 1, { ttlMs: 30 });
    await sleep(60);
    const walked: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await s.list<{ k: string }>('p/', { ...(after !== undefined ? { after } : {}), limit: 3 });
      expect(page.length).toBeLessThanOrEqual(3);
      for (const e of page) expect(e).toEqual({ key: e.key, value: { k: e.key }, version: vs[e.key] });
      walked.push(...page.map((e) => e.key));
      if (page.length < 3) break;
      after = page[page.length - 1]!.key;
    }
    expect(walked).toEqual([...keys].sort());
    expect((await s.list('p/', { after: 'p/2' })).map((e) => e.key)).toEqual([...keys].sort().filter((k) => k > 'p/2'));
    expect((await s.list('p/', { limit: 1 })).map((e) => e.key)).toEqual(['p/1']);
    expect(await s.list('p/', { after: 'p/\uffff', limit: 5 })).toEqual([]);
    await expect(s.list('p/', { limit: 0 })).rejects.toThrow(/limit/);
    await expect(s.list('p/', { limit: 1.5 })).rejects.toThrow(TypeError);
  });

  // ---- leases -----------------------------------------------------------------------------------

  it('a lease is exclusive until released', async () => {
    const a = await s.acquireLease('sweep', 5_000);
    expect(a).toBeDefined();
    expect(a!.name).toBe('sweep');
    expect(a!.owner).toBeTypeOf('string');
    expect(a!.expiresAt).toBeGreaterThan(Date.now());
    expect(await s.acquireLease('sweep', 5_000)).toBeUndefined();
    expect(await (await another()).acquireLease('sweep', 5_000, 'other')).toBeUndefined();
    expect(await s.acquireLease('other-lease', 5_000)).toBeDefined();
    expect(await a!.release()).toBe(true);
    expect(await a!.release()).toBe(false);
    const b = await s.acquireLease('sweep', 5_000, 'b');
    expect(b?.owner).toBe('b');
    expect(await a!.renew()).toBe(false);
  });

  it('the owner that holds a lease can acquire it again (re-entry extends it)', async () => {
    const a = await s.acquireLease('re', 150, 'me');
    expect(a).toBeDefined();
    await sleep(100);
    const again = await s.acquireLease('re', 300, 'me');
    expect(again).toBeDefined();
    await sleep(120); // past the first ttl, inside the second
    expect(await s.acquireLease('re', 1000, 'you')).toBeUndefined();
  });

  it('a lease expires without renewal and can then be taken; the old holder cannot renew or release it', async () => {
    const a = (await s.acquireLease('exp', 120, 'a'))!;
    expect(a).toBeDefined();
    await sleep(250);
    expect(await a.renew()).toBe(false);
    const b = await (await another()).acquireLease('exp', 5_000, 'b');
    expect(b).toBeDefined();
    expect(await a.renew()).toBe(false);
    expect(await a.release()).toBe(false);
    expect(await s.acquireLease('exp', 5_000, 'c')).toBeUndefined();
    expect(await b!.release()).toBe(true);
  });

  it('renew keeps a lease past its first ttl', async () => {
    const a = (await s.acquireLease('renew', 200, 'a'))!;
    const firstExpiry = a.expiresAt;
    await sleep(120);
    expect(await a.renew(400)).toBe(true);
    expect(a.expiresAt).toBeGreaterThan(firstExpiry);
    await sleep(180); // 300 ms in: past the first ttl
    expect(await s.acquireLease('renew', 1000, 'b')).toBeUndefined();
    await sleep(450); // past the renewed ttl
    expect(await s.acquireLease('renew', 1000, 'b')).toBeDefined();
  });

  it('20 concurrent acquisitions of one lease: exactly one wins', async () => {
    const others = [s, await another()];
    const got = await Promise.all(
      Array.from({ length: 20 }, (_, i) => others[i % 2]!.acquireLease('hot', 5_000, `owner-${i}`)),
    );
    const held = got.filter((l): l is Lease => l !== undefined);
    expect(held).toHaveLength(1);
  });

  it('leases live apart from keys', async () => {
    await s.put('same', 'a key');
    const l = await s.acquireLease('same', 5_000);
    expect(l).toBeDefined();
    expect((await s.get('same'))?.value).toBe('a key');
    expect((await s.list('')).map((e) => e.key)).toEqual(['same']);
    expect(await s.delete('same')).toBe(true);
    expect(await s.acquireLease('same', 5_000)).toBeUndefined();
  });

  // ---- reserveSlot ------------------------------------------------------------------------------
  // A long interval, so the milliseconds a test takes cannot change which answer is right.
  const I = 60_000;

  it('reserveSlot: the first slot is now, the next one an interval later, a refusal spends nothing', async () => {
    const t0 = Date.now();
    const first = await s.reserveSlot('r', I, 0);
    expect(first).toMatchObject({ granted: true, waitMs: 0 });
    // `at` is the slot on the store's clock (here, this machine's).
    expect(first.at).toBeGreaterThanOrEqual(t0 - 1000);
    expect(first.at).toBeLessThanOrEqual(Date.now() + 1000);
    const refused = await s.reserveSlot('r', I, 1_000);
    expect(refused.granted).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(I - 5_000);
    expect(refused.waitMs).toBeLessThanOrEqual(I);
    // The refusal left the schedule alone: the next grant is the second slot, not the third.
    const second = await s.reserveSlot('r', I, Infinity);
    expect(second.granted).toBe(true);
    expect(second.waitMs).toBeGreaterThan(I - 5_000);
    expect(second.waitMs).toBeLessThanOrEqual(I);
    expect(second.at - first.at).toBeGreaterThanOrEqual(I - 1);
    expect(second.at - first.at).toBeLessThanOrEqual(I + 1);
    const third = await s.reserveSlot('r', I, 3 * I);
    expect(third.waitMs).toBeGreaterThan(2 * I - 5_000);
  });

  it('reserveSlot: keys are independent and apart from keys, leases and list', async () => {
    await s.reserveSlot('a', I, 0);
    expect(await s.reserveSlot('b', I, 0)).toMatchObject({ granted: true, waitMs: 0 });
    await s.put('a', 'kv');
    expect((await s.get('a'))?.value).toBe('kv');
    expect((await s.list('')).map((e) => e.key)).toEqual(['a']);
    expect(await s.acquireLease('a', 5_000)).toBeDefined();
  });

  it('reserveSlot: racing stores on one backend never get the same slot', async () => {
    const others = [s, await another(), await another()];
    const got = await Promise.all(Array.from({ length: 30 }, (_, i) => others[i % 3]!.reserveSlot('hot', I, Infinity)));
    expect(got.every((g) => g.granted)).toBe(true);
    const slots = got.map((g) => Math.round(g.waitMs / I)).sort((a, b) => a - b);
    expect(slots).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reserveSlot refuses bad arguments by name', async () => {
    await expect(s.reserveSlot('x', 0, 0)).rejects.toThrow(/intervalMs/);
    await expect(s.reserveSlot('x', 10, -1)).rejects.toThrow(/maxWaitMs/);
    await expect(s.reserveSlot('', 10, 0)).rejects.toThrow(/slot key/);
  });

  // ---- close ------------------------------------------------------------------------------------

  it('a closed store rejects further calls with StoreError CLOSED', async () => {
    const o = await another();
    if (o === s) return; // single-object backends (memory) cannot reopen
    const lease = await o.acquireLease('c', 5_000);
    await o.close();
    await expect(o.get('x')).rejects.toMatchObject({ name: 'StoreError', code: 'CLOSED' });
    await expect(o.put('x', 1)).rejects.toBeInstanceOf(StoreError);
    await expect(lease!.renew()).rejects.toMatchObject({ code: 'CLOSED' });
    expect(await s.get('x')).toBeUndefined();
  });
}
