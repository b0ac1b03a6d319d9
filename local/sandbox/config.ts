import { CAMS_ACTIONS, isCamsAction, type CamsAction } from '../../shared/cams/operations.ts';

/** Where the sandbox listens unless told otherwise (CAMS_SANDBOX_HOST, CAMS_SANDBOX_PORT; 0 picks a free port). */
export const DEFAULT_SANDBOX_HOST = '127.0.0.1';
export const DEFAULT_SANDBOX_PORT = 9100;

/** One AccessKey pair the sandbox accepts. Each key is its own CAMS account. */
export interface SandboxKey {
  accessKeyId: string;
  accessKeySecret: string;
}

/**
 * The documented local pairs (README of the sandbox). They protect nothing: they exist so that a
 * fresh checkout can call the sandbox, and a second account to exercise cross-account rules.
 */
export const DEFAULT_SANDBOX_KEYS: SandboxKey[] = [
  { accessKeyId: 'LTAIsandbox0000000001', accessKeySecret: 'sandboxSecret0000000000000000001' },
  { accessKeyId: 'LTAIsandbox0000000002', accessKeySecret: 'sandboxSecret0000000000000000002' },
];

export function isDefaultSandboxKey(key: SandboxKey): boolean {
  return DEFAULT_SANDBOX_KEYS.some((d) => d.accessKeyId === key.accessKeyId && d.accessKeySecret === key.accessKeySecret);
}

const KEY_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Parses `id:secret,id:secret`. The secret may itself contain ':' (only the first one splits).
 * Error messages name CAMS_SANDBOX_KEYS and the entry's position, never the entry's text (it may
 * hold a secret).
 */
export function parseSandboxKeys(spec: string): SandboxKey[] {
  const entries = spec.split(',').map((e) => e.trim());
  if (entries.every((e) => e === '')) {
    throw new Error('CAMS_SANDBOX_KEYS is empty: expected "accessKeyId:accessKeySecret[,accessKeyId:accessKeySecret...]"');
  }
  const keys: SandboxKey[] = [];
  entries.forEach((entry, i) => {
    const where = `CAMS_SANDBOX_KEYS entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) throw new Error(`${where} is not "accessKeyId:accessKeySecret"`);
    const accessKeyId = entry.slice(0, colon).trim();
    const accessKeySecret = entry.slice(colon + 1).trim();
    if (!KEY_ID_RE.test(accessKeyId)) {
      throw new Error(`${where}: the accessKeyId must be 1-128 characters of A-Z a-z 0-9 . _ -`);
    }
    if (accessKeySecret.length === 0) throw new Error(`${where}: the accessKeySecret is empty`);
    if (keys.some((k) => k.accessKeyId === accessKeyId)) {
      throw new Error(`${where}: accessKeyId ${accessKeyId} is listed twice`);
    }
    keys.push({ accessKeyId, accessKeySecret });
  });
  return keys;
}

/** Parses `GetWhatsappHealthStatus=20,ChatappBindWaba=50` into per-operation QPS overrides. */
export function parseSandboxQps(spec: string): Partial<Record<CamsAction, number>> {
  const out: Partial<Record<CamsAction, number>> = {};
  for (const [i, raw] of spec.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') continue;
    const where = `CAMS_SANDBOX_QPS entry ${i + 1} ("${entry}")`;
    const m = /^([A-Za-z]+)\s*=\s*(\d+)$/.exec(entry);
    if (!m) throw new Error(`${where} is not "Action=QPS" with a whole number`);
    const action = m[1]!;
    if (!isCamsAction(action)) throw new Error(`${where}: unknown action; expected one of ${CAMS_ACTIONS.join(', ')}`);
    const qps = Number(m[2]);
    if (!Number.isSafeInteger(qps) || qps > 1_000_000) throw new Error(`${where}: QPS must be 0..1000000`);
    out[action] = qps;
  }
  return out;
}

/** `--stage prod` / `--stage=prod`; a stage names a directory, so it is a plain name. */
export function parseStageArg(argv: readonly string[]): string {
  let stage = 'dev';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--stage') stage = argv[++i] ?? '';
    else if (arg.startsWith('--stage=')) stage = arg.slice('--stage='.length);
    else throw new Error(`unknown argument "${arg}"; usage: npm run sandbox [-- --stage <stage>]`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(stage)) throw new Error(`--stage must be a name of letters, digits, _ and - (got "${stage}")`);
  }
  return stage;
}
