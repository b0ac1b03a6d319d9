import type { Acs3Credentials } from '../acs3/index.ts';

export type { Acs3Credentials };

/** Called before every attempt, so STS credentials that rotate are picked up without a new client. */
export type CredentialsProvider = () => Acs3Credentials | Promise<Acs3Credentials>;

/** The part of FC's handler context we read. `credentials` is `{}` when the function has no role. */
export interface FcCredentialsContext {
  credentials?: { accessKeyId?: string; accessKeySecret?: string; securityToken?: string } | null;
}

const ENV_ACCESS_KEY_ID = 'ALIBABA_CLOUD_ACCESS_KEY_ID';
const ENV_ACCESS_KEY_SECRET = 'ALIBABA_CLOUD_ACCESS_KEY_SECRET';
const ENV_SECURITY_TOKEN = 'ALIBABA_CLOUD_SECURITY_TOKEN';

export class MissingCredentialsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MissingCredentialsError';
  }
}

function nonEmpty(v: string | undefined | null): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * The FC role's STS credentials when the context carries them, else the local env vars.
 * Throws a MissingCredentialsError naming the env vars when neither source has a key pair.
 */
export function credentialsFrom(
  context?: FcCredentialsContext | null,
  env: Record<string, string | undefined> = process.env,
): Acs3Credentials {
  const c = context?.credentials;
  const ctxId = nonEmpty(c?.accessKeyId);
  const ctxSecret = nonEmpty(c?.accessKeySecret);
  if (ctxId && ctxSecret) {
    return { accessKeyId: ctxId, accessKeySecret: ctxSecret, securityToken: nonEmpty(c?.securityToken) };
  }
  const envId = nonEmpty(env[ENV_ACCESS_KEY_ID]);
  const envSecret = nonEmpty(env[ENV_ACCESS_KEY_SECRET]);
  if (envId && envSecret) {
    return { accessKeyId: envId, accessKeySecret: envSecret, securityToken: nonEmpty(env[ENV_SECURITY_TOKEN]) };
  }
  const missing = [envId ? undefined : ENV_ACCESS_KEY_ID, envSecret ? undefined : ENV_ACCESS_KEY_SECRET].filter(Boolean);
  throw new MissingCredentialsError(
    `No Alibaba Cloud credentials: the FC context has none (give the function a role) and ` +
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set ` +
      `(set ${ENV_ACCESS_KEY_ID} and ${ENV_ACCESS_KEY_SECRET}, plus ${ENV_SECURITY_TOKEN} for STS).`,
  );
}

export function resolveCredentials(source: Acs3Credentials | CredentialsProvider): Promise<Acs3Credentials> | Acs3Credentials {
  return typeof source === 'function' ? source() : source;
}
