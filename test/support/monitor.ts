import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signRouteRequest } from '../../local/client/route-request.ts';
import type { RunningSandbox } from '../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../local/sandbox/server.ts';
import type { AlertNotification, AlertSink } from '../../shared/alerts/model.ts';
import { SinkDeliveryError } from '../../shared/alerts/model.ts';
import { CamsClient } from '../../shared/cams/client.ts';
import { CamsBudget } from '../../shared/cams/budget/budget.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { handler as bindWaba } from '../../functions/bind-waba/handler.ts';
import { handler as addPhone } from '../../functions/add-phone-number/handler.ts';
import { fcContext, httpEvent, parseReply } from './events.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from './sandbox-env.ts';

/** An in-process sink that records what it is sent and can be told to fail. */
export class RecordingSink implements AlertSink {
  readonly received: AlertNotification[] = [];
  failNext = 0;
  constructor(readonly name = 'recorder', readonly perMinute = 1000) {}
  async send(n: AlertNotification): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new SinkDeliveryError(this.name, 'scripted failure', true);
    }
    this.received.push(structuredClone(n));
  }
}

export async function tempFileStore(): Promise<{ store: Store; url: string; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-store-'));
  const url = `file:${dir}`;
  const store = await openStore(url);
  return { store, url, dir, cleanup: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

/** What sandboxPerFileStorePerTest hands each test. */
export interface SandboxAndStore {
  sandbox: RunningSandbox;
  store: Store;
  storeUrl: string;
}

/**
 * The hooks most end-to-end files need: one sandbox for the file (this process's functions pointed
 * at it), reset before each test, and a fresh file store per test, removed after it. `use` gets them
 * before each test. `quiet` sets LOG_LEVEL=warn for the file; `healthQps` is the sandbox's
 * GetWhatsappHealthStatus limit (default CAMS's).
 */
export function sandboxPerFileStorePerTest(use: (parts: SandboxAndStore) => void, opts: { quiet?: boolean; healthQps?: number } = {}): void {
  let sandbox: RunningSandbox | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    sandbox = await sandboxForFunctions(opts.healthQps === undefined ? {} : { qps: { GetWhatsappHealthStatus: opts.healthQps } });
    if (opts.quiet) process.env['LOG_LEVEL'] = 'warn';
  });
  afterAll(async () => {
    if (opts.quiet) delete process.env['LOG_LEVEL'];
    await sandbox?.close();
  });
  beforeEach(async () => {
    await sandboxControl(sandbox!, 'POST', '/__sandbox/reset');
    const temp = await tempFileStore();
    cleanup = temp.cleanup;
    use({ sandbox: sandbox!, store: temp.store, storeUrl: temp.url });
  });
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });
}

/**
 * One sandbox and one file store for the whole file, the store's URL in process.env's STORE_URL (and
 * LOG_LEVEL=warn): for handlers that keep their store connection for the instance's life, as the
 * watch-list function does. Tests reset what they use.
 */
export function sandboxAndStorePerFile(use: (parts: SandboxAndStore) => void): void {
  let sandbox: RunningSandbox | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    sandbox = await sandboxForFunctions();
    const temp = await tempFileStore();
    cleanup = temp.cleanup;
    process.env['STORE_URL'] = temp.url;
    process.env['LOG_LEVEL'] = 'warn';
    use({ sandbox, store: temp.store, storeUrl: temp.url });
  });
  afterAll(async () => {
    delete process.env['STORE_URL'];
    delete process.env['LOG_LEVEL'];
    await cleanup?.();
    await sandbox?.close();
  });
}

/**
 * A client of the sandbox's first account with its own budget (tests stay independent) of `qps`
 * GetWhatsappHealthStatus calls a second: the budget's limit, not only the client's share of it (a
 * share above the budget's default 5 QPS is no share, so every caller ran at 5).
 */
export function sandboxClient(sandbox: RunningSandbox, qps = 5, key = DEFAULT_SANDBOX_KEYS[0]!): CamsClient {
  return new CamsClient({ endpoint: sandbox.url, credentials: key, budget: new CamsBudget({ qps: { GetWhatsappHealthStatus: qps } }) });
}

let n = 0;
/** Binds a WABA and adds phones through the real functions; returns the CustSpaceId. */
export async function onboardThroughFunctions(wabaId: string, phones: Array<{ cc: string; phone: string }>): Promise<string> {
  const sign = (req: Parameters<typeof signRouteRequest>[0]) => signRouteRequest(req, 'h', CALLER_KEY, { nonce: `mon-${process.pid}-${++n}` });
  const bound = parseReply(await bindWaba(httpEvent(sign({ method: 'POST', path: '/waba/bind', body: { WabaId: wabaId } }), 'fc-http'), fcContext() as never));
  if (bound.statusCode !== 200) throw new Error(`bind failed: ${JSON.stringify(bound.body)}`);
  const space = bound.body.Data!['CustSpaceId'] as string;
  for (const p of phones) {
    const body = { CustSpaceId: space, Cc: p.cc, PhoneNumber: p.phone, VerifiedName: 'Acme Shop' };
    const r = parseReply(await addPhone(httpEvent(sign({ method: 'POST', path: '/phone-numbers', body }), 'fc-http'), fcContext() as never));
    if (r.statusCode !== 200) throw new Error(`add phone failed: ${JSON.stringify(r.body)}`);
  }
  return space;
}

export async function setHealth(sandbox: RunningSandbox, node: Record<string, unknown>): Promise<void> {
  await sandboxControl(sandbox, 'PUT', '/__sandbox/health', node);
}
