/**
 * Buckets: how the file and redis stores group keys so that listing a prefix reads only the keys
 * that may start with it, not every key of the store (10,000 entities, targets and watch entries
 * are 40,000 keys; `monitor/risky/` holds a few).
 */

/** A bucket is at most this many leading segments of a key. */
const BUCKET_DEPTH = 2;
const WORD_MAX = 32;

/** A namespace word: lower-case letters and '-', starting with a letter (`monitor`, `space-waba`). */
function isWord(key: string, start: number, end: number): boolean {
  if (end - start > WORD_MAX || end === start) return false;
  for (let i = start; i < end; i++) {
    const c = key.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c === 45 && i > start))) return false;
  }
  return true;
}

/**
 * A key's bucket: its leading segments that are namespace words, each with its '/', at most
 * BUCKET_DEPTH of them; '' (the root bucket) when its first segment is not one. Ids (`C6818…`,
 * `template:…:tpl/en`) are not words, so they never make a bucket of their own: the watch list's
 * 10,000 `watch/<id>` keys share `watch/`, while `monitor/owed/` is a bucket apart from `monitor/entity/`.
 */
export function bucketOf(key: string): string {
  let end = 0;
  for (let depth = 0; depth < BUCKET_DEPTH; depth++) {
    const slash = key.indexOf('/', end);
    if (slash < 0 || !isWord(key, end, slash)) break;
    end = slash + 1;
  }
  return key.slice(0, end);
}

/** Does every key starting with `bucket` have that bucket? Yes when it has BUCKET_DEPTH segments. */
export function isFixedBucket(bucket: string): boolean {
  let slashes = 0;
  for (let i = bucket.indexOf('/'); i >= 0; i = bucket.indexOf('/', i + 1)) slashes++;
  return slashes === BUCKET_DEPTH;
}

/**
 * Of the buckets `known`, those that may hold a key starting with `prefix`: the prefix's own bucket,
 * and the buckets that start with the prefix. (A key's bucket is made of whole leading segments of
 * the key; one shorter than the prefix is made of the prefix's own segments, so it is the prefix's
 * bucket.) A fixed bucket is the only one; `known` is not needed then.
 */
export function bucketsHolding(prefix: string, known: Iterable<string> = []): string[] {
  const own = bucketOf(prefix);
  const out = [own];
  if (isFixedBucket(own)) return out;
  for (const b of known) if (b !== own && b.startsWith(prefix)) out.push(b);
  return out;
}
