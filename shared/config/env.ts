import { isAsciiLetter, isDigit, isDigits, isRegExpSpace } from '../text/chars.ts';
import * as z from '../validation/schema.ts';

/** A configuration problem found at start-up; the message always names the variable. */
export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`${variable}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export type EnvSource = Record<string, string | undefined>;

/**
 * Reads one variable through a zod/mini schema; an empty string counts as unset so that
 * `${env:X, ''}` in serverless.yml means "use the default".
 */
export function readEnv<T>(env: EnvSource, name: string, schema: z.Schema<T>, fallback?: string): T {
  const raw = env[name];
  const value = raw === undefined || raw === '' ? fallback : raw;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(name, value === undefined ? 'is required' : (issue?.message ?? 'is invalid'));
  }
  return parsed.data;
}

export interface ApiKey {
  accessKeyId: string;
  accessKeySecret: string;
}

/**
 * `id:secret` as /^([A-Za-z0-9._-]{3,128}):(\S{8,256})$/ reads it (the id holds no `:`, so the first
 * one ends it), with string operations: the expression's \S costs its compilation at every cold start.
 */
export function parseKeyPair(part: string): ApiKey | undefined {
  const colon = part.indexOf(':');
  if (colon < 3 || colon > 128) return undefined;
  for (let i = 0; i < colon; i += 1) {
    const c = part.charCodeAt(i);
    const ok = isAsciiLetter(c) || isDigit(c) || c === 0x2e || c === 0x5f || c === 0x2d;
    if (!ok) return undefined;
  }
  const secret = part.slice(colon + 1);
  if (secret.length < 8 || secret.length > 256) return undefined;
  for (let i = 0; i < secret.length; i += 1) if (isRegExpSpace(secret.charCodeAt(i))) return undefined;
  return { accessKeyId: part.slice(0, colon), accessKeySecret: secret };
}

/** `id:secret,id:secret` — the keys callers sign the function set's HTTP routes with. */
export function parseKeyList(name: string, spec: string): ApiKey[] {
  const keys: ApiKey[] = [];
  for (const [i, part] of spec.split(',').entries()) {
    const key = parseKeyPair(part.trim());
    if (!key) {
      throw new ConfigError(name, `entry ${i + 1} must be "id:secret" (id 3-128 of [A-Za-z0-9._-], secret at least 8 characters, no spaces)`);
    }
    keys.push(key);
  }
  if (new Set(keys.map((k) => k.accessKeyId)).size !== keys.length) throw new ConfigError(name, 'an id appears twice');
  return keys;
}

export const urlString = z.string().check(
  z.refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an http:// or https:// URL'),
);

export const positiveInt = z.pipe(
  z.string().check(z.refine(isDigits, 'must be a whole number')),
  z.transform((v) => Number(v)),
).check(z.refine((n) => n > 0, 'must be greater than 0'));
