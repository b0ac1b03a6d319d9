/**
 * `npm start`: the local host (./host.ts) on embedded defaults. Environment: ./config.ts, plus what
 * serverless.yml reads through ${env:...} (API_KEYS, STORE_URL, CAMS_ENDPOINT, ...).
 * Defaults: http://127.0.0.1:9000; CAMS sandbox on 127.0.0.1:9100 when CAMS_ENDPOINT is unset;
 * API_KEYS local-caller:local-caller-secret-0001 (./defaults.ts); STORE_URL file:./.data/<stage>.
 */
import { hostOptionsFromEnv, HostConfigError } from './config.ts';
import { startHost, type RunningHost } from './host.ts';

async function main(): Promise<void> {
  let options;
  try {
    options = hostOptionsFromEnv(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof HostConfigError) {
      for (const p of e.problems) console.error(`local host: ${p}`);
      process.exit(2);
    }
    throw e;
  }

  const host: RunningHost = await startHost(options);
  console.log(host.banner().join('\n'));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`local host: ${signal}, stopping`);
    host.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`local host: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

// A function's stray rejection or exception (a throw in a timer callback, say) is reported, never
// fatal: the host keeps serving the other functions.
process.on('unhandledRejection', (reason) => {
  console.error(`local host: unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
});
process.on('uncaughtException', (err) => {
  console.error(`local host: uncaught exception: ${err.stack ?? err.message}`);
});

main().catch((err: unknown) => {
  console.error(`local host: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
