/**
 * The CAMS sandbox alone in its process, for benches that measure throttling: CAMS is another
 * machine, and a sandbox sharing the bench's event loop stamps arrivals late whenever the bench
 * works (parsing results, polling), which bunches calls that were sent on time. Argument: JSON
 * {qps?: {Action: n}}. Prints one JSON line {url, port}; exits when its stdin closes (the bench
 * ended, even by a crash) or on SIGTERM.
 */
import { startSandbox } from '../../local/sandbox/server.ts';
import type { CamsAction } from '../../shared/cams/operations.ts';

const args = JSON.parse(process.argv[2] ?? '{}') as { qps?: Partial<Record<CamsAction, number>> };
const sandbox = await startSandbox({ host: '127.0.0.1', port: 0, ...(args.qps ? { qps: args.qps } : {}) });
const stop = () => void sandbox.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.stdin.on('end', stop).resume();
process.stdout.write(`${JSON.stringify({ url: sandbox.url, port: sandbox.port })}\n`);
