import { CAMS_DEFAULT_ENDPOINT } from '../cams/operations.ts';
import { ConfigError, parseKeyList, positiveInt, readEnv, urlString, type ApiKey, type EnvSource } from './env.ts';

export interface HttpFunctionConfig {
  apiKeys: ApiKey[];
  camsEndpoint: string;
  maxBodyBytes: number;
  storeUrl: string;
}

/** What every HTTP function reads from its environment, checked once per instance. */
export function loadHttpFunctionConfig(env: EnvSource = process.env): HttpFunctionConfig {
  const rawKeys = env['API_KEYS'];
  if (!rawKeys) throw new ConfigError('API_KEYS', 'is required: the "id:secret,..." pairs callers sign their requests with');
  return {
    apiKeys: parseKeyList('API_KEYS', rawKeys),
    camsEndpoint: readEnv(env, 'CAMS_ENDPOINT', urlString, CAMS_DEFAULT_ENDPOINT),
    maxBodyBytes: readEnv(env, 'MAX_BODY_BYTES', positiveInt, String(256 * 1024)),
    storeUrl: env['STORE_URL'] || 'file:./.data',
  };
}
