/** Helpers shared by the adapters. Not part of the port: core code must not import this. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { MAX_KEY_LENGTH, StoreError, type ListOptions, type PutOptions } from './port.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkKey(key: unknown, what = 'key'): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError(`store ${what} must be a non-empty string`);
  if (key.length > MAX_KEY_LENGTH) throw new TypeError(`store ${what} is longer than ${MAX_KEY_LENGTH} characters`);
  if (LONE_SURROGATE.test(key)) throw new TypeError(`store ${what} is not well-formed Unicode (lone surrogate)`);
}

export function checkPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string') throw new TypeError('store list prefix must be a string');
}

/** Checks list()'s page options; returns the keys of `sorted` that fall in the page. */
export function pageOf(sorted: readonly string[], opts: ListOptions | undefined): string[] {
  if (opts === undefined) return [...sorted];
  const { after, limit } = opts;
  if (after !== undefined && typeof after !== 'string') throw new TypeError('store list: after must be a string');
  if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new TypeError(`store list: limit must be a positive integer (got ${String(limit)})`);
  let start = 0;
  if (after !== undefined) {
    // Binary search: the first key greater than `after`.
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(sorted[mid]!, after) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  return sorted.slice(start, limit === undefined ? undefined : start + limit);
}

/** The JSON text of a value, or a TypeError when it has none. */
export function serialize(value: unknown): string {
  const json: string | undefined = JSON.stringify(value);
  if (json === undefined) throw new TypeError('store value must be JSON-serialisable (got undefined or a function)');
  return json;
}

export function checkTtl(ttlMs: unknown, what = 'ttlMs'): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new TypeError(`store ${what} must be a finite number > 0 (got ${String(ttlMs)})`);
  }
  return Math.max(1, Math.ceil(ttlMs));
}

export type PutMode = { kind: 'always' } | { kind: 'ifAbsent' } | { kind: 'ifVersion'; version: string };

export function putMode(opts: PutOptions | undefined): { mode: PutMode; ttlMs: number | undefined } {
  const ttlMs = opts?.ttlMs === undefined ? undefined : checkTtl(opts.ttlMs);
  const hasVersion = opts?.ifVersion !== undefined;
  if (hasVersion && opts?.ifAbsent) throw new TypeError('store put: ifVersion and ifAbsent are mutually exclusive');
  if (hasVersion) {
    if (typeof opts.ifVersion !== 'string') throw new TypeError('store put: ifVersion must be a string');
    return { mode: { kind: 'ifVersion', version: opts.ifVersion }, ttlMs };
  }
  return { mode: opts?.ifAbsent ? { kind: 'ifAbsent' } : { kind: 'always' }, ttlMs };
}

/** Random part of a version: makes versions unique across delete/re-create cycles. */
export function versionNonce(): string {
  return randomBytes(6).toString('hex');
}

/** Versions are `<sequence>.<nonce>`: the sequence counts writes since the key was (re)created. */
export function nextVersion(previous: string | undefined): string {
  const seq = previous === undefined ? 0 : Number.parseInt(previous, 10);
  return `${Number.isSafeInteger(seq) ? seq + 1 : 1}.${versionNonce()}`;
}

/**
 * Sort order of list(), the same in every adapter: by code point, which is UTF-8 byte order, the
 * order redis keeps a sorted set's members in (the redis store's index). JavaScript's `<` compares
 * UTF-16 units, which differs only where a surrogate (a character above U+FFFF) meets U+E000-U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) < codePointRank(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : 1;
}

/** Surrogates stand for code points above U+FFFF: rank them above every other UTF-16 unit. */
function codePointRank(unit: number): number {
  return unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit;
}

const SURROGATE_OR_ABOVE = /[\uD800-\uFFFF]/;

/** Sort `items` in place in list() order: natively when no key holds a character where the orders differ. */
export function sortKeys<T>(items: T[], keyOf: (item: T) => string): T[] {
  if (items.some((i) => SURROGATE_OR_ABOVE.test(keyOf(i)))) return items.sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  return items.sort((a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export function defaultOwner(): string {
  return `${hostname()}:${process.pid}:${randomBytes(8).toString('hex')}`;
}

export function closedError(): StoreError {
  return new StoreError('CLOSED', 'store is closed');
}
