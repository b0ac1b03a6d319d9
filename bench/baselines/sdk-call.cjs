/* global require, process, console, URL */
/**
 * client-cold-start, variant "theirs": the same GetWhatsappHealthStatus call through the official
 * SDK's generic callApi (ACS3-HMAC-SHA256, RPC style, formData body), the way
 * test/local/sandbox/sdk.test.ts calls it. Plain node, CommonJS, loaded straight from node_modules.
 * Exits 0 once the reply is in; 1 on any failure.
 */
'use strict';
// Marks as bench/lib/fn-runner.cjs takes them: process.uptime() and fs.writeSync(2) cost less
// than the `performance` global and process.stderr, which every variant but bare would pay.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { writeSync } = require('fs');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const $OpenApi = require('@alicloud/openapi-client');
const loaded = process.uptime() * 1000;

const Client = $OpenApi.default;
const env = process.env;
const endpoint = new URL(env.CAMS_ENDPOINT);
const client = new Client(
  new $OpenApi.Config({
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
    accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
    endpoint: endpoint.host,
    protocol: endpoint.protocol === 'https:' ? 'HTTPS' : 'HTTP',
  }),
);
const params = new $OpenApi.Params({
  action: 'GetWhatsappHealthStatus',
  version: '2020-06-06',
  protocol: endpoint.protocol === 'https:' ? 'HTTPS' : 'HTTP',
  pathname: '/',
  method: 'POST',
  authType: 'AK',
  style: 'RPC',
  reqBodyType: 'formData',
  bodyType: 'json',
});
const request = new $OpenApi.OpenApiRequest({
  body: { CustSpaceId: env.BENCH_CUST_SPACE_ID, NodeType: 'waba', WabaId: env.BENCH_WABA_ID },
});
client.callApi(params, request, {}).then(
  (res) => {
    const replied = process.uptime() * 1000;
    if (!res.body || res.body.Code !== 'OK' || !res.body.Data || !res.body.Data.CanSendMessage) {
      console.error('unexpected reply', res.statusCode, JSON.stringify(res.body));
      process.exit(1);
    }
    writeSync(2, `__BENCH_MARKS loaded=${loaded},replied=${replied}\n`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
