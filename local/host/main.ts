/**
 * `npm start`: the local host (./host.ts) on embedded defaults. Environment: ./config.ts, plus what
 * serverless.yml reads through ${env:...} (API_KEYS, STORE_URL, CAMS_ENDPOINT, ...).
 * Defaults: http://127.0.0.1:9000; CAMS sandbox on 127.0.0.1:9100 when CAMS_ENDPOINT is unset;
 * API_KEYS local-caller:local-caller-secret-0001 (./defaults.ts); STORE_URL file:./.data/<stage>.
 * Output, signals and a closed pipe: ../process-lifecycle.ts.
 */
import { installProcessLifecycle } from '../process-lifecycle.ts';
import { hostOptionsFromEnv, HostConfigError } from './config.ts';
import { startHost } from './host.ts';

const lifecycle = installProcessLifecycle({ name: 'local host' });

async function main(): Promise<void> {
  let options;
  try {
    options = hostOptionsFromEnv(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof HostConfigError) {
      for (const p of e.problems) lifecycle.err(`local host: ${p}`);
      process.exit(2);
    }
    throw e;
  }

  const host = await startHost({ ...options, log: lifecycle.out });
  lifecycle.onStop(() => host.close());
  lifecycle.out(host.banner().join('\n'));
}

main().catch((err: unknown) => {
  lifecycle.err(`local host: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
