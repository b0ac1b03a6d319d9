// The packaged health monitor as FC runs it: its own bundle through the code cache loader, in a plain
// node process with only its environment, CAMS and every alert sink over https, TLS roots read from
// the certs/ it ships as serverless.yml sets up (the test's CA put among them, as public roots are
// there on FC). A bundle that cannot load TLS (an import() under the loader's vm.Script) would
// check nothing and alert no one.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { buildFunctions } from '../../../scripts/build.ts';
import { FC_CODE_DIR, ROOT_STORE_DIR, rootStoreEnv, writeRootStore } from '../../../scripts/root-store.ts';
import { removeDir, REPO, run } from '../../serverless/support.ts';
import { findOnPath } from '../../shared/store/redis-server.ts';
import { fcContext } from '../../support/events.ts';
import { onboardThroughFunctions, setHealth, tempFileStore } from '../../support/monitor.ts';
import { RECEIVER_KINDS, startReceivers, type Receivers } from '../../support/receivers/index.ts';
import { failInCIWithout } from '../../support/ci.ts';
import { sandboxForFunctions } from '../../support/sandbox-env.ts';
import { makeTlsCert, startTlsFront, type TlsCert, type TlsFront } from '../../support/tls-front.ts';

const openssl = findOnPath('openssl');

let sandbox: RunningSandbox;
let receivers: Receivers;
let store: Awaited<ReturnType<typeof tempFileStore>>;
let out: string;
let cert: TlsCert | undefined;
const fronts: TlsFront[] = [];

beforeAll(async () => {
  if (!openssl) return;
  out = mkdtempSync(join(tmpdir(), 'cams-fc-packaged-monitor-'));
  await buildFunctions({ root: REPO, outDir: out, log: () => undefined });
  sandbox = await sandboxForFunctions();
  receivers = await startReceivers();
  store = await tempFileStore();
  cert = makeTlsCert(openssl);
  if (cert) writeRootStore(join(out, 'health-monitor', ROOT_STORE_DIR), [...rootCertificates, cert.cert.toString()]);
}, 120_000);
afterAll(async () => {
  for (const f of fronts) await f.close();
  cert?.remove();
  await receivers?.close();
  await store?.cleanup();
  await sandbox?.close();
  if (out) removeDir(out);
});

/** https://127.0.0.1:<front> for an http://127.0.0.1:<port>/<rest> URL, its path and query kept. */
async function overTls(url: string): Promise<string> {
  const u = new URL(url);
  const front = (await startTlsFront(openssl, { host: u.hostname, port: Number(u.port) }, cert))!;
  fronts.push(front);
  return `${front.url}${u.pathname}${u.search}`;
}

describe('the packaged health monitor, as deployed', () => {
  failInCIWithout(openssl, 'needs openssl on PATH when CI is set (CI installs it)', 'openssl not found on PATH, and CI is set: the TLS test cannot make its certificate');

  it.skipIf(!openssl)('checks a BLOCKED number over https and alerts every sink over https, from its bundle in a plain node process', async () => {
    const space = await onboardThroughFunctions('299399000200', [{ cc: '86', phone: '13800000200' }]);
    const target = { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000200' };
    await setHealth(sandbox, { ...target, CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '141006', ErrorDescription: 'There is an error with the payment method.' }] });

    const sinks: Record<string, string> = {};
    for (const [name, value] of Object.entries(receivers.env)) sinks[name] = value.startsWith('http://') ? await overTls(value) : value;
    expect(Object.values(sinks).filter((v) => v.startsWith('https://'))).toHaveLength(RECEIVER_KINDS.length);
    const env = {
      PATH: process.env.PATH ?? '',
      ...sinks,
      CAMS_ENDPOINT: await overTls(sandbox.url),
      STORE_URL: store.url,
      MONITOR_TARGETS: JSON.stringify([target]),
      ALIBABA_CLOUD_ACCESS_KEY_ID: DEFAULT_SANDBOX_KEYS[0]!.accessKeyId,
      ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEFAULT_SANDBOX_KEYS[0]!.accessKeySecret,
      // serverless.yml's; the code is not in /code here, so the loader reads the certs/ beside it
      ...rootStoreEnv(`${FC_CODE_DIR}/${ROOT_STORE_DIR}`),
      PROBE_EVENT: readFileSync(join(REPO, 'test/fixtures/timer-event.json'), 'utf8'),
      PROBE_CONTEXT: JSON.stringify(fcContext({ requestId: 'packaged-monitor' })),
    };
    const probe = [
      'const m = require(process.argv[1]);',
      'm.handler(Buffer.from(process.env.PROBE_EVENT), JSON.parse(process.env.PROBE_CONTEXT)).then(',
      "  (r) => { console.log('RESULT ' + JSON.stringify({ codeCache: m.codeCache, tls: process.moduleLoadList.includes('NativeModule tls') })); process.exit(0); },",
      '  (e) => { console.error(e); process.exit(1); },',
      ');',
    ].join('\n');
    const dir = join(out, 'health-monitor');
    const ran = await run(process.execPath, ['-e', probe, join(dir, 'index.js')], { cwd: dir, env });
    expect(ran.code, ran.output).toBe(0);
    expect(JSON.parse(/RESULT (.*)/.exec(ran.output)?.[1] ?? 'null'), ran.output).toEqual({ codeCache: 'accepted', tls: true });
    for (const k of RECEIVER_KINDS) {
      expect(receivers.received[k], `${k}: ${ran.output}`).toHaveLength(1);
      expect(receivers.received[k][0]!.text).toContain('BLOCKED');
      expect(receivers.received[k][0]!.text).toContain('8613800000200');
    }
  }, 60_000);
});
