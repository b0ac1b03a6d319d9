/**
 * The local host's own environment (`npm start`), parsed once with zod; every bad variable is
 * reported by name. The functions' variables (API_KEYS, STORE_URL, CAMS_ENDPOINT, ...) come through
 * serverless.yml's `${env:...}` and are checked by startHost.
 *
 *   HOST               default 127.0.0.1         PORT               default 9000 (0: any free port)
 *   CAMS_SANDBOX_HOST  default 127.0.0.1         CAMS_SANDBOX_PORT  default 9100 (0: any free port)
 *   CAMS_SANDBOX_KEYS  id:secret,...  (default: the sandbox's documented pairs)
 *   CAMS_SANDBOX_QPS   Action=N,...   (default: the CAMS limits)
 *   HOST_TIMERS        on | off       (default on)
 *   HOST_FC_VERSION    3 | 2          (default 3: which FC the functions run as, ./defaults.ts)
 *   argv: --stage <name>  (serverless ${opt:stage}; default provider.stage, else dev)
 */
import { z } from 'zod';
import { STAGE_PATTERN } from '../../serverless/schema.js';
import { parseSandboxKeys, parseSandboxQps } from '../sandbox/config.ts';
import { DEFAULT_FC_VERSION, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_SANDBOX_HOST, DEFAULT_SANDBOX_PORT } from './defaults.ts';
import type { HostOptions } from './host.ts';
import { parsedWith, portVariable, unsetIfEmpty } from '../zod-env.ts';

const HostEnv = z.object({
  HOST: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_HOST)),
  PORT: portVariable('PORT', DEFAULT_PORT),
  CAMS_SANDBOX_HOST: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_SANDBOX_HOST)),
  CAMS_SANDBOX_PORT: portVariable('CAMS_SANDBOX_PORT', DEFAULT_SANDBOX_PORT),
  CAMS_SANDBOX_KEYS: z.preprocess(unsetIfEmpty, z.string().transform(parsedWith(parseSandboxKeys)).optional()),
  CAMS_SANDBOX_QPS: z.preprocess(unsetIfEmpty, z.string().transform(parsedWith(parseSandboxQps)).optional()),
  HOST_TIMERS: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['on', 'off'], { error: 'HOST_TIMERS must be on or off' }).default('on'),
  ),
  HOST_FC_VERSION: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().replace(/\.0$/, '') || undefined : v),
    z.enum(['3', '2'], { error: 'HOST_FC_VERSION must be 3 or 2' }).default(DEFAULT_FC_VERSION),
  ),
});

export class HostConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'HostConfigError';
  }
}

/** HostOptions from the environment and argv; throws HostConfigError listing every problem. */
export function hostOptionsFromEnv(env: Record<string, string | undefined>, argv: readonly string[] = []): HostOptions {
  const problems: string[] = [];
  const parsed = HostEnv.safeParse(env);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => i.message));

  let stage: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--stage' || a === '-s') {
      stage = argv[++i];
      if (!stage) problems.push('--stage needs a value');
    } else if (a.startsWith('--stage=')) {
      stage = a.slice('--stage='.length);
    } else {
      problems.push(`unknown argument ${a} (usage: npm start [-- --stage <name>])`);
    }
  }
  if (stage !== undefined && stage !== '' && !new RegExp(STAGE_PATTERN).test(stage)) problems.push('--stage must be letters, digits and -');
  if (problems.length || !parsed.success) throw new HostConfigError(problems);

  const e = parsed.data;
  return {
    host: e.HOST,
    port: e.PORT,
    sandbox: {
      host: e.CAMS_SANDBOX_HOST,
      port: e.CAMS_SANDBOX_PORT,
      ...(e.CAMS_SANDBOX_KEYS ? { keys: e.CAMS_SANDBOX_KEYS } : {}),
      ...(e.CAMS_SANDBOX_QPS ? { qps: e.CAMS_SANDBOX_QPS } : {}),
    },
    timers: e.HOST_TIMERS === 'on',
    fcVersion: e.HOST_FC_VERSION,
    env,
    ...(stage ? { stage } : {}),
  };
}
