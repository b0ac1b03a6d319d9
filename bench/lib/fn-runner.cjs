/* global require, process, console, Buffer */
/**
 * function-cold-start: what FC does in a fresh instance, reduced to its core. Requires the bundle
 * given as argv[2] and invokes `handler(event, context)` once with the FC event bytes from
 * BENCH_EVENT (JSON) and the context from BENCH_CONTEXT; exits 0 on a 200 reply with Code OK,
 * 1 otherwise (a failing function must not be timed as a fast one). Shared by our bundles and the
 * SDK baseline bundle, so both pay the same harness. Reports when the runner started, when the
 * bundle was loaded and when the reply came (ms since process start), and the process's CPU time
 * (user + system) at each, on one stderr line.
 */
'use strict';
// The harness costs as little as it can: every variant pays it and `node -e 0` does not, so it
// would count as overhead in each. process.uptime() rather than the `performance` global (which
// loads perf_hooks), fs.writeSync(2) rather than process.stderr (a pipe stream): 2.6–2.8 ms less
// per process, measured side by side.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { writeSync } = require('fs');
const now = () => process.uptime() * 1000;
const start = now();
// CPU time (user + system, ms) as well as wall: on a shared machine it is far less noisy.
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const cpuStart = cpu();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler } = require(process.argv[2]);
const loaded = now();
const cpuLoaded = cpu();

const event = Buffer.from(process.env.BENCH_EVENT, 'utf8');
const context = JSON.parse(process.env.BENCH_CONTEXT);
Promise.resolve(handler(event, context)).then(
  (res) => {
    const replied = now();
    const cpuReplied = cpu();
    let body;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    if (res.statusCode !== 200 || !body || body.Code !== 'OK') {
      console.error('unexpected reply', res.statusCode, res.body);
      process.exit(1);
    }
    writeSync(2, `__BENCH_MARKS start=${start},loaded=${loaded},replied=${replied},cpuStart=${cpuStart},cpuLoaded=${cpuLoaded},cpuReplied=${cpuReplied}\n`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
