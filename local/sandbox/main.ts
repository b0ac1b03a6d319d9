/**
 * `npm run sandbox [-- --stage <stage>]`: the CAMS sandbox alone, its state kept in
 * ./.data/<stage>/sandbox.json (stage default dev). Environment:
 *   CAMS_SANDBOX_PORT  (default 9100)      CAMS_SANDBOX_HOST (default 127.0.0.1)
 *   CAMS_SANDBOX_KEYS  id:secret,id:secret (default: the documented sandbox pairs)
 *   CAMS_SANDBOX_QPS   Action=N,...        (default: the documented CAMS limits)
 * Output, signals and a closed pipe: ../process-lifecycle.ts.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { CAMS_QPS, type CamsAction } from '../../shared/cams/operations.ts';
import { DEFAULT_SANDBOX_HOST, DEFAULT_SANDBOX_PORT, isDefaultSandboxKey, parseStageArg } from './config.ts';
import { CONTROL_ENDPOINTS } from './control.ts';
import { DEFAULT_SANDBOX_KEYS, parseSandboxKeys, parseSandboxQps, startSandbox, type SandboxKey } from './server.ts';
import { parsedWith, portVariable, unsetIfEmpty } from '../zod-env.ts';
import { installProcessLifecycle } from '../process-lifecycle.ts';

const lifecycle = installProcessLifecycle({ name: 'cams sandbox' });

const Env = z.object({
  CAMS_SANDBOX_PORT: portVariable('CAMS_SANDBOX_PORT', DEFAULT_SANDBOX_PORT),
  CAMS_SANDBOX_HOST: z.preprocess(unsetIfEmpty, z.string().default(DEFAULT_SANDBOX_HOST)),
  CAMS_SANDBOX_KEYS: z.preprocess(unsetIfEmpty, z.string().transform(parsedWith(parseSandboxKeys)).optional()),
  CAMS_SANDBOX_QPS: z.preprocess(unsetIfEmpty, z.string().transform(parsedWith(parseSandboxQps)).optional()),
});

function describeKey(key: SandboxKey, index: number): string {
  const role = index === 0 ? ' (default account)' : '';
  // Only the documented, public sandbox pairs are shown with their secret.
  return isDefaultSandboxKey(key) ? `${key.accessKeyId}:${key.accessKeySecret}${role}` : `${key.accessKeyId}${role}`;
}

async function main(): Promise<void> {
  let stage: string;
  try {
    stage = parseStageArg(process.argv.slice(2));
  } catch (e) {
    lifecycle.err(`cams sandbox: ${(e as Error).message}`);
    process.exit(2);
  }
  const parsed = Env.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) lifecycle.err(`cams sandbox: ${issue.message}`);
    process.exit(2);
  }
  const env = parsed.data;
  const keys = env.CAMS_SANDBOX_KEYS ?? DEFAULT_SANDBOX_KEYS;
  const qps = env.CAMS_SANDBOX_QPS ?? {};

  const sandbox = await startSandbox({
    host: env.CAMS_SANDBOX_HOST,
    port: env.CAMS_SANDBOX_PORT,
    keys,
    qps,
    log: lifecycle.out,
    dataDir: join(process.cwd(), '.data', stage),
  });

  const limits = (Object.keys(CAMS_QPS) as CamsAction[]).map((a) => `${a}=${qps[a] ?? CAMS_QPS[a]}`).join(', ');
  lifecycle.out(`CAMS sandbox listening on ${sandbox.url}`);
  lifecycle.out(`  keys (each its own account): ${keys.map(describeKey).join(', ')}`);
  lifecycle.out(`  QPS per account: ${limits}`);
  lifecycle.out(`  state (stage ${stage}): ${sandbox.stateFile}`);
  lifecycle.out(`  control API: ${sandbox.url}/__sandbox/{${CONTROL_ENDPOINTS.join(',')}}`);

  lifecycle.onStop(() => sandbox.close());
}

main().catch((err: unknown) => {
  lifecycle.err(`cams sandbox: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
