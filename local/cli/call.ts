/** `npm run call -- METHOD PATH [JSON]` or `npm run call -- --sandbox METHOD ACTION [JSON]`: see ./run-call.ts. */
import { runCall } from './run-call.ts';

let exitCode: number | undefined;
// The reader went away (`| head`): nothing more can be said.
process.stdout.on('error', () => process.exit(exitCode ?? 1));

/**
 * Exit now rather than when the keep-alive socket to the host times out, but only once stdout and
 * stderr have handed everything to the pipe: process.exit drops what a pipe has not taken yet (a
 * reply over 64 KB piped to jq came out cut).
 */
function exitWhenFlushed(code: number): void {
  exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

runCall(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
}).then(exitWhenFlushed, (err: unknown) => {
  process.stderr.write(`call: ${err instanceof Error ? err.message : String(err)}\n`);
  exitWhenFlushed(1);
});
