import { afterAll, beforeAll } from 'vitest';
import { httpRequest } from '../../shared/http/request.ts';
import { DEFAULT_SANDBOX_KEYS, startSandbox, type RunningSandbox } from '../../local/sandbox/server.ts';

export const CALLER_KEY = { accessKeyId: 'caller-test-1', accessKeySecret: 'caller-secret-0001' };
export const OTHER_CALLER_KEY = { accessKeyId: 'caller-test-2', accessKeySecret: 'caller-secret-0002' };

/** Starts a sandbox on a free port and points this process's functions at it. */
export async function sandboxForFunctions(opts: Parameters<typeof startSandbox>[0] = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ port: 0, ...opts });
  const camsKey = (opts.keys ?? DEFAULT_SANDBOX_KEYS)[0]!;
  Object.assign(process.env, {
    API_KEYS: `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret},${OTHER_CALLER_KEY.accessKeyId}:${OTHER_CALLER_KEY.accessKeySecret}`,
    CAMS_ENDPOINT: sandbox.url,
    ALIBABA_CLOUD_ACCESS_KEY_ID: camsKey.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: camsKey.accessKeySecret,
  });
  delete process.env['ALIBABA_CLOUD_SECURITY_TOKEN'];
  return sandbox;
}

/** Calls the sandbox's control API (`/__sandbox/...`) of a sandbox, or of a host's embedded one (`{ url: host.sandboxUrl }`). */
export async function sandboxControl(sandbox: { url: string }, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await httpRequest(new URL(path, sandbox.url), {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`sandbox ${method} ${path} → ${res.status}: ${res.body.toString()}`);
  return res.body.length ? JSON.parse(res.body.toString()) : undefined;
}

/**
 * The sandbox a monitor test file shares: started before its tests (GetWhatsappHealthStatus at
 * `qps`, the functions pointed at it) and closed after them, with LOG_LEVEL=warn meanwhile so the
 * functions' info lines stay out of the test output. `use` receives it once it listens.
 */
export function sandboxForFile(qps: number, use: (sandbox: RunningSandbox) => void): void {
  let sandbox: RunningSandbox | undefined;
  beforeAll(async () => {
    sandbox = await sandboxForFunctions({ qps: { GetWhatsappHealthStatus: qps } });
    use(sandbox);
    process.env['LOG_LEVEL'] = 'warn';
  });
  afterAll(async () => {
    delete process.env['LOG_LEVEL'];
    await sandbox?.close();
  });
}
