/* global require, process, console, URL, Buffer */
/**
 * client-cold-start, reference variant "floor": the least any CAMS client can do in a fresh
 * process — one node:http POST of a form body to the sandbox and a JSON.parse of the reply, with no
 * signing, no client library and no validation (the sandbox answers it with a signature error,
 * which is still one full round trip). Not part of a goal: it shows how much of a client's
 * overhead over `node -e 0` is Node's own cost of a first HTTP request.
 */
'use strict';
// Marks as bench/lib/fn-runner.cjs takes them: process.uptime() and fs.writeSync(2) cost less
// than the `performance` global and process.stderr, which every variant but bare would pay.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { writeSync } = require('fs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const http = require('node:http');
const loaded = process.uptime() * 1000;

const target = new URL(process.env.CAMS_ENDPOINT);
const body = 'CustSpaceId=' + encodeURIComponent(process.env.BENCH_CUST_SPACE_ID) + '&NodeType=waba';
const req = http.request(
  target,
  { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
  (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const replied = process.uptime() * 1000;
      const reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (typeof reply.Code !== 'string') {
        console.error('unexpected reply', res.statusCode, reply);
        process.exit(1);
      }
      writeSync(2, `__BENCH_MARKS loaded=${loaded},replied=${replied}\n`);
      process.exit(0);
    });
  },
);
req.on('error', (err) => {
  console.error(err);
  process.exit(1);
});
req.end(body);
