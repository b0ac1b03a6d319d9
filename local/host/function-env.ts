/**
 * The process.env each function gets under the local host: what serverless.yml declares for it
 * (provider `environment` plus its own, resolved), never another function's variables, plus only
 * what FC or the local setup must supply:
 *   - CAMS_ENDPOINT, when its own is empty: the CAMS the host uses (the embedded sandbox by default);
 *   - STORE_URL, when its own is empty: the host's STORE_URL, else file:./.data/<stage>;
 *   - API_KEYS, only where declared and empty: the default caller pair (./defaults.ts);
 *   - ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET(/_SECURITY_TOKEN): the functions' credentials (FC sets them too);
 *   - FC_ENDPOINT (this host's URL, for onboarding-api's invoke), and FC_FUNCTION_NAME, FC_REGION,
 *     FC_ACCOUNT_ID as FC sets them; FC_SERVICE_NAME only as FC 2.0 (FC 3.0 has no services).
 */
import type { FcCredentials } from './functions.ts';
import type { FunctionSpec } from './serverless-config.ts';

export interface HostSupplied {
  camsEndpoint: string;
  storeUrl: string;
  apiKeys: string;
  credentials: FcCredentials;
  fcEndpoint: string;
  /** The FC 2.0 service the functions run in; undefined as FC 3.0, which has none. */
  serviceName: string | undefined;
  region: string;
  accountId: string;
}

const empty = (v: string | undefined) => v === undefined || v.trim() === '';

export function functionEnvironment(spec: FunctionSpec, host: HostSupplied): Record<string, string> {
  const env: Record<string, string> = { ...spec.environment };
  if (empty(env['CAMS_ENDPOINT'])) env['CAMS_ENDPOINT'] = host.camsEndpoint;
  if (empty(env['STORE_URL'])) env['STORE_URL'] = host.storeUrl;
  if ('API_KEYS' in env && empty(env['API_KEYS'])) env['API_KEYS'] = host.apiKeys;
  const { accessKeyId, accessKeySecret, securityToken } = host.credentials;
  if (accessKeyId && accessKeySecret) {
    env['ALIBABA_CLOUD_ACCESS_KEY_ID'] = accessKeyId;
    env['ALIBABA_CLOUD_ACCESS_KEY_SECRET'] = accessKeySecret;
    if (securityToken) env['ALIBABA_CLOUD_SECURITY_TOKEN'] = securityToken;
  }
  env['FC_ENDPOINT'] = host.fcEndpoint;
  if (host.serviceName !== undefined) env['FC_SERVICE_NAME'] = host.serviceName;
  env['FC_FUNCTION_NAME'] = spec.name;
  env['FC_REGION'] = host.region;
  env['FC_ACCOUNT_ID'] = host.accountId;
  return env;
}
