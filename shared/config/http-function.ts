import { budgetQps } from '../cams/budget/qps.ts';
import { CAMS_DEFAULT_ENDPOINT, type CamsAction } from '../cams/operations.ts';
import { ConfigError, parseKeyList, positiveInt, readEnv, urlString, type ApiKey, type EnvSource } from './env.ts';
import { DEFAULT_STORE_URL } from '../store/open-store.ts';

/** An HTTP function's MAX_BODY_BYTES when its environment sets none (the local host reads it too). */
export const FUNCTION_DEFAULT_MAX_BODY_BYTES = 256 * 1024;

export interface HttpFunctionConfig {
  apiKeys: ApiKey[];
  camsEndpoint: string;
  maxBodyBytes: number;
  storeUrl: string;
  /** STORE_URL when set: replay nonces and the CAMS budget are then shared through it by every instance. */
  sharedStoreUrl: string | undefined;
  /** The account's CAMS budget per operation (CAMS_QPS over the documented limits). */
  camsQps: Record<CamsAction, number>;
  /** CAMS_ACCOUNT_ID: the budget's account instead of the FC context's (for tests). */
  camsAccount: string | undefined;
}

/** What every HTTP function reads from its environment, checked once per instance. */
export function loadHttpFunctionConfig(env: EnvSource = process.env): HttpFunctionConfig {
  const rawKeys = env['API_KEYS'];
  if (!rawKeys) throw new ConfigError('API_KEYS', 'is required: the "id:secret,..." pairs callers sign their requests with');
  return {
    apiKeys: parseKeyList('API_KEYS', rawKeys),
    camsEndpoint: readEnv(env, 'CAMS_ENDPOINT', urlString, CAMS_DEFAULT_ENDPOINT),
    maxBodyBytes: readEnv(env, 'MAX_BODY_BYTES', positiveInt, String(FUNCTION_DEFAULT_MAX_BODY_BYTES)),
    storeUrl: env['STORE_URL'] || DEFAULT_STORE_URL,
    sharedStoreUrl: env['STORE_URL'] || undefined,
    camsQps: budgetQps(env),
    camsAccount: env['CAMS_ACCOUNT_ID'] || undefined,
  };
}
