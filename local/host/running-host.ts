/** What startHost returns: the running local host, as the CLI, the banner and the tests see it. */
import type { ApiKey } from '../../shared/config/env.ts';
import type { FcVersion } from './defaults.ts';
import type { FcCredentials } from './functions.ts';
import type { HostTimerInfo } from './host-config.ts';
import type { HostRoute } from './routes.ts';

export interface RunningHost {
  url: string;
  port: number;
  /** Set when the host started the CAMS sandbox (CAMS_ENDPOINT unset). */
  sandboxUrl?: string;
  /** `<service>-<stage>`: the `{service}` of the FC 2.0 invoke API. */
  serviceName: string;
  /** Which FC the functions run as. */
  fcVersion: FcVersion;
  stage: string;
  /** This stage's local data directory (absolute): <dataRoot>/<stage>. */
  dataDir: string;
  region: string;
  accountId: string;
  /** The caller keys (API_KEYS, or the default pair). */
  apiKeys: ApiKey[];
  usingDefaultApiKeys: boolean;
  /** What the functions get as context.credentials and ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET. */
  credentials: FcCredentials;
  camsEndpoint: string;
  /** The STORE_URL a function gets when serverless.yml leaves its own empty. */
  storeUrl: string;
  /** Each function's whole process.env (./function-env.ts). Holds secrets: never print it. */
  environments: Record<string, Record<string, string>>;
  routes: Array<HostRoute & { implemented: boolean }>;
  timers: HostTimerInfo[];
  /** Listed in serverless.yml, no functions/<name>/handler.ts. */
  missing: string[];
  /** handler.ts exists but failed to load (answered 500 FunctionLoadError). */
  broken: Array<{ name: string; error: string }>;
  /** The start-up lines `npm start` prints. */
  banner(): string[];
  close(): Promise<void>;
}
