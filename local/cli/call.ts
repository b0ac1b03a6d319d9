/** `npm run call -- METHOD PATH [JSON]` or `npm run call -- --sandbox METHOD ACTION [JSON]`: see ./run-call.ts. */
import { runCall } from './run-call.ts';

runCall(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text + '\n'),
  err: (text) => process.stderr.write(text + '\n'),
}).then(
  // exit now rather than when the keep-alive socket to the host times out
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`call: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
