/**
 * The CAMS the local host's functions call: the configured CAMS_ENDPOINT with the environment's
 * credentials, or, when none is configured, the CAMS sandbox started here, with its first key as
 * the functions' credentials.
 */
import type { CamsAction } from '../../shared/cams/operations.ts';
import { startSandbox, DEFAULT_SANDBOX_KEYS, hostSandboxDataDir, type RunningSandbox, type SandboxKey } from '../sandbox/server.ts';
import { DEFAULT_SANDBOX_HOST, DEFAULT_SANDBOX_PORT } from './defaults.ts';
import type { FcCredentials } from './functions.ts';
import type { HostPlan } from './host-config.ts';

export interface SandboxOptions {
  host?: string;
  port?: number;
  keys?: SandboxKey[];
  qps?: Partial<Record<CamsAction, number>>;
}

export interface HostCams {
  endpoint: string;
  /** What the functions get as context.credentials and ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET. */
  credentials: FcCredentials;
  /** Set when the host started the sandbox (and closes it). */
  sandbox?: RunningSandbox;
}

export async function hostCams(plan: HostPlan, opts: SandboxOptions | undefined, log: (line: string) => void): Promise<HostCams> {
  if (plan.configuredCams) return { endpoint: plan.configuredCams, credentials: plan.envCredentials };
  const keys = opts?.keys ?? DEFAULT_SANDBOX_KEYS;
  const host = opts?.host ?? DEFAULT_SANDBOX_HOST;
  const port = opts?.port ?? DEFAULT_SANDBOX_PORT;
  let sandbox: RunningSandbox;
  try {
    sandbox = await startSandbox({ host, port, keys, qps: opts?.qps ?? {}, log: (line) => log(`cams-sandbox: ${line}`), dataDir: hostSandboxDataDir(plan.storeUrl, plan.config.stage) });
  } catch (e) {
    throw new Error(`the CAMS sandbox cannot listen on ${host}:${port} (${(e as Error).message}); set CAMS_SANDBOX_PORT (0: any free port), or CAMS_ENDPOINT to use another CAMS`, { cause: e });
  }
  return { endpoint: sandbox.url, credentials: { accessKeyId: keys[0]!.accessKeyId, accessKeySecret: keys[0]!.accessKeySecret }, sandbox };
}
