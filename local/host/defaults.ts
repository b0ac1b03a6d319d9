/**
 * The local host's embedded defaults (`npm start` with no environment at all).
 *
 * The default API key pair is public and protects nothing: it exists so that a fresh checkout can
 * call its own routes (`npm run call`, which signs with the same pair). Set API_KEYS to replace it.
 */
export const DEFAULT_API_KEY = { accessKeyId: 'local-caller', accessKeySecret: 'local-caller-secret-0001' } as const;
/** The documented default caller key pair, as API_KEYS spells it: `local-caller:local-caller-secret-0001`. */
export const DEFAULT_API_KEYS = `${DEFAULT_API_KEY.accessKeyId}:${DEFAULT_API_KEY.accessKeySecret}`;

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 9000;
export { DEFAULT_SANDBOX_HOST, DEFAULT_SANDBOX_PORT } from '../sandbox/config.ts';

/** The account id the host puts in FC contexts and trigger events (the one the test fixtures use). */
export const DEFAULT_ACCOUNT_ID = '1234567890123456';

/**
 * Which FC the functions run as. FC 3.0 by default: it is what `npm run package` deploys (dist/s.yaml)
 * and what Alibaba Cloud still develops; FC 2.0 (`HOST_FC_VERSION=2`) is the legacy route.
 */
export type FcVersion = '3' | '2';
export const DEFAULT_FC_VERSION: FcVersion = '3';

/** FC 3.0 sync request body limit (32 MB). */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
/** FC async invocation payload limit (128 KB). */
export const DEFAULT_MAX_ASYNC_BODY_BYTES = 128 * 1024;
/** FC retries a failed async invocation 3 times by default; these are the waits before each retry. */
export const DEFAULT_ASYNC_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];
