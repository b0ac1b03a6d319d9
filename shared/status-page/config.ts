import * as z from '../validation/schema.ts';
import { ConfigError, readEnv, type EnvSource } from '../config/env.ts';
import { DEFAULT_STORE_URL } from '../store/open-store.ts';

export interface StatusPageConfig {
  /** Viewers present it as a Bearer token or `?token=` once (then a cookie). */
  token?: string;
  /** Anyone may read the page. */
  public: boolean;
  /** Meta refresh in seconds; 0 for none. */
  refreshSeconds: number;
  storeUrl: string;
}

const seconds = z.pipe(z.string().check(z.regex(/^\d{1,5}$/, 'must be a whole number of seconds (0 for none)')), z.transform(Number));
const bool = z.pipe(z.enum(['true', 'false'], { error: 'must be true or false' }), z.transform((v) => v === 'true'));

/** STATUS_PAGE_TOKEN (16+ characters, no spaces), STATUS_PAGE_PUBLIC, STATUS_PAGE_REFRESH (default 60 s). */
export function loadStatusPageConfig(env: EnvSource = process.env): StatusPageConfig {
  const token = env['STATUS_PAGE_TOKEN'] || undefined;
  if (token !== undefined && !/^[\x21-\x7e]{16,256}$/.test(token)) {
    throw new ConfigError('STATUS_PAGE_TOKEN', 'must be 16-256 printable characters without spaces');
  }
  return {
    ...(token ? { token } : {}),
    public: readEnv(env, 'STATUS_PAGE_PUBLIC', bool, 'false'),
    refreshSeconds: readEnv(env, 'STATUS_PAGE_REFRESH', seconds, '60'),
    storeUrl: env['STORE_URL'] || DEFAULT_STORE_URL,
  };
}
