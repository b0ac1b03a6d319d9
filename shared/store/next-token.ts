// A paged list's NextToken is the last store key of its page, base64url-encoded: opaque to callers,
// and stable across writes (the next page lists after that key).

export function nextTokenOf(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

/** The key a NextToken names: only under `prefix`, and only as nextTokenOf spells it (one token per key). */
export function keyOfNextToken(token: string, prefix: string): string | undefined {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  return key.startsWith(prefix) && nextTokenOf(key) === token ? key : undefined;
}
