/**
 * Where the file store (file-store.ts) keeps each key: pure naming, no I/O.
 *
 * A key is kv/<bucket dir>/<name>.json. Its bucket is its first two segments when both are namespace
 * words (`monitor/owed/` for `monitor/owed/<target>`), its first when only that one is (`watch/` for
 * `watch/template:C1:t/en`), and the root bucket `_root.d` otherwise (bucketOf); the file in the
 * bucket is named after the rest. So listing a prefix of two words reads one small directory, not
 * every key of the store (10,000 entities, targets and watch entries were 40,000 names, read by each
 * listing before buckets).
 *
 * <name> encodes a string: bytes of its UTF-8 in [a-z0-9._-] stay, every other byte becomes %xx (lower
 * case hex), so names are safe on every file system, distinct on case-insensitive ones, and the name
 * of a prefix is a prefix of the names of its keys. Names longer than LONG_NAME keep a readable head
 * and end in `~` + sha256 of the string.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { bucketOf } from './buckets.ts';

const SAFE = new Uint8Array(256);
for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789._-') SAFE[c.charCodeAt(0)] = 1;
const LONG_NAME = 180;
const LONG_HEAD = 120;

/** The file name (without extension) of a key, or of a key's bucket or rest. */
export function encodeKey(key: string): string {
  let s = '';
  for (const b of Buffer.from(key, 'utf8')) {
    s += SAFE[b] ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`;
  }
  if (s.length <= LONG_NAME) return s;
  let cut = LONG_HEAD;
  const pct = s.lastIndexOf('%', cut - 1);
  if (pct >= cut - 2) cut = pct; // do not end inside a %xx escape
  return `${s.slice(0, cut)}~${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 40)}`;
}

/** Can a file whose name is `name` (no extension) hold a key starting with the prefix encoded as `encPrefix`? */
export function mayMatch(name: string, encPrefix: string): boolean {
  const tilde = name.indexOf('~');
  if (tilde < 0) return name.startsWith(encPrefix);
  const head = name.slice(0, tilde);
  return head.startsWith(encPrefix) || encPrefix.startsWith(head);
}

/** The key a short (unhashed) file name encodes; undefined for hashed long names. */
export function decodeName(name: string): string | undefined {
  if (name.includes('~')) return undefined;
  // Fast path (list() decodes every name in the directory): the escapes are UTF-8 bytes as %xx,
  // which decodeURIComponent reads natively; it throws only on bytes that are not valid UTF-8.
  try {
    return decodeURIComponent(name);
  } catch {
    // fall through to the byte-exact decoding
  }
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(Number.parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

const ROOT_BUCKET = '_root.d';

export function bucketDir(bucket: string): string {
  return bucket === '' ? ROOT_BUCKET : `${encodeKey(bucket)}.d`;
}

/** The bucket a directory of kv/ holds (a bucket's name is short: never hashed); undefined when it is not one. */
export function bucketOfDir(dir: string): string | undefined {
  if (dir === ROOT_BUCKET) return '';
  const bucket = dir.endsWith('.d') ? decodeName(dir.slice(0, -2)) : undefined;
  return bucket !== undefined && bucket !== '' && bucketOf(bucket) === bucket ? bucket : undefined;
}

/** Where a key's file is, relative to kv/. */
export function keyFile(key: string): string {
  const bucket = bucketOf(key);
  return join(bucketDir(bucket), `${encodeKey(key.slice(bucket.length))}.json`);
}
