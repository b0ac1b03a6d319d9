// A seeded, model-based soak of "no lost or doubled alerts" in the configuration FC runs: a real
// redis (AOF, so a restart keeps what it acknowledged, as a managed one does), the CAMS sandbox, two
// health-monitor instances ticking (runHealthMonitor) beside two cams-events instances taking
// receipts (camsEventsHandler over HTTP), and one signed webhook that now and then answers 500, late,
// never, or 400 (refused for good: a message refused SINK_REFUSALS times is given up for it, and
// counts as told, README: a sink refusing everything loses each message after 3 refusals). A seeded driver changes the nodes' health in the sandbox, pushes (or loses, or
// repeats) the matching receipts, runs ticks, restarts redis, and silences a node (or its WABA) for
// a while through the silences service, ending some early (DELETE, now and then while redis
// restarts, sent again until answered); a model keeps each node's true state and each silence's
// span. No message accepted in a silence's span may name an alert it covers, unless the message
// was recorded before the silence was made (README: it goes out as it was). After a quiescent phase (faults off, CAMS's retries of failed pushes delivered, clean
// rounds, nothing owed) what the webhook accepted must tell, per alert, a consistent story that ends
// in the node's true state, and no notification id may arrive twice except after a store failure
// between a send and its strike (README: the re-send carries the same X-Alert-Id), nor a message
// given up be sent again without a store failure since its first refusal (one that lost a refusal's count sends it once more).
//
// SOAK_STEPS (default 40) and SOAK_SEED (default 1) change the run, SOAK_RESTARTS the share of steps
// that restart redis (default 0.06), SOAK_REFUSALS the share whose webhook refuses (default 0.08;
// 0: the run as before refusals), SOAK_REVIEWS the share in which a WABA's review changes (a `wabaReviewUpdate`
// receipt, its WABA_REVIEW alert; default 0.1; 0: the run as before reviews), SOAK_PORTS the range redis's port is drawn from (default
// 53000-53999, e.g. 22800-22899 where ports are shared); a failure prints the report and the command that
// runs the seed again (SOAK_VERBOSE=1: the report always). A seed draws the same plan (steps, faults, every
// draw) every run: nothing is drawn after an await, nor by how a fault landed; a second test runs a short
// one twice and compares the plans. What the faults then meet (a push's timing against a restart) is the machine's.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seeded } from '../../local/sandbox/receipts.ts';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../../local/sandbox/server.ts';
import type { AlertItem } from '../../shared/alerts/model.ts';
import { OWED_PREFIX } from '../../shared/monitor/entity-store.ts';
import { registerWatchTarget, type WatchTarget } from '../../shared/monitor/targets.ts';
import { DELIVERY_LEASE, SENDING_PREFIX, SINK_REFUSALS } from '../../shared/monitor/dispatch.ts';
import { HttpError } from '../../shared/http-fn/errors.ts';
import { createSilenceService, deleteSilenceService, listSilencesService } from '../../shared/services/silences.ts';
import { camsEventsHandler } from '../../shared/services/cams-events.ts';
import { monitorRuntime, runHealthMonitor, type MonitorRuntime } from '../../shared/services/health-monitor.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { fcContext, fixture } from '../support/events.ts';
import { onboardThroughFunctions, setHealth } from '../support/monitor.ts';
import { startWebhookReceiver } from '../support/receivers/index.ts';
import { sandboxControl, sandboxForFunctions } from '../support/sandbox-env.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../shared/store/redis-server.ts';

const STEPS = Number(process.env['SOAK_STEPS'] ?? 40);
const SEED = Number(process.env['SOAK_SEED'] ?? 1);
/** How often redis is restarted in a step (default 0.06). */
const RESTARTS = Number(process.env['SOAK_RESTARTS'] ?? 0.06);
/** How often the webhook refuses (400) the next few messages in a step (default 0.08; 0: as before refusals were drawn). */
const REFUSALS = Number(process.env['SOAK_REFUSALS'] ?? 0.08);
/** How often a WABA's review status changes in a step (default 0.1; 0: as before reviews were drawn). */
const REVIEWS = Number(process.env['SOAK_REVIEWS'] ?? 0.1);

/** What a run is drawn from: its seed, its length and the shares of steps each fault is drawn in. */
interface SoakOptions {
  seed: number;
  steps: number;
  restartShare: number;
  refusalShare: number;
  reviewShare: number;
}
const RUN: SoakOptions = { seed: SEED, steps: STEPS, restartShare: RESTARTS, refusalShare: REFUSALS, reviewShare: REVIEWS };
/** The command that runs the test again with the same draws (SOAK_PORTS aside: a port is not a draw of the run). */
const rerun = (o: SoakOptions, test: string) =>
  `re-run: SOAK_SEED=${o.seed} SOAK_STEPS=${o.steps} SOAK_RESTARTS=${o.restartShare} SOAK_REFUSALS=${o.refusalShare} SOAK_REVIEWS=${o.reviewShare} node_modules/.bin/vitest run test/functions/alerts-soak.test.ts -t '${test}'`;

/** Runs the soak; an error thrown in it says how to run the seed again, as a discrepancy does. */
const soakOrSay = (o: SoakOptions, test: string) =>
  soak(o).catch((e: unknown) => {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${rerun(o, test)}`, { cause: e });
  });

/** What a run found (problems, and the report naming them), its plan (every draw, in order), and how long it stood for. */
interface SoakRun {
  problems: string[];
  report: string;
  plan: string[];
  rounds: number;
  /** Wall time plus the timer's minutes the quiescent ticks stood for. */
  span: number;
}
const redisBin = findOnPath('redis-server');
const TOKEN = 'soak-receipt-token-0123456789';
const key = DEFAULT_SANDBOX_KEYS[0]!;
const HOUR = 3_600_000;

type Health = 'AVAILABLE' | 'LIMITED' | 'BLOCKED';
const HEALTHS: readonly Health[] = ['AVAILABLE', 'LIMITED', 'BLOCKED'];
type Quality = 'GREEN' | 'YELLOW' | 'RED';
const QUALITIES: readonly Quality[] = ['GREEN', 'YELLOW', 'RED'];
/** A WABA's review (AccountReviewStatus) as a wabaReviewUpdate receipt says it (PENDING says nothing: left out). */
type Review = 'APPROVED' | 'REJECTED' | 'DISABLED';
const REVIEW_STATES: readonly Review[] = ['APPROVED', 'REJECTED', 'DISABLED'];

interface Node {
  name: string;
  wabaId: string;
  target: WatchTarget;
  /** What the sandbox answers for it now (the ground truth of its check). */
  health: Health;
  /** Templates: the review state of the last receipt sent for it (its TEMPLATE_STATUS entity). */
  review: Health;
  /** Phones: the rating of the last phoneQualityUpdate sent for it (its PHONE_QUALITY entity). */
  quality: Quality;
  /** Every state its check could have seen (a notification of another one is made up). */
  seen: Set<Health>;
}

/** A silence the driver made, and the span in which it held: from its making to its end or first DELETE. */
interface SoakSilence {
  id: string;
  /** What it covers: a node's phone or template, or (wabaWide) every node of its WABA. */
  node: Node;
  wabaWide: boolean;
  /** On the alerts' clock. */
  createdAt: number;
  endsAt: number;
  /** When its first DELETE was sent (it may have ended then, though unanswered). */
  deleteAt?: number;
  /** A DELETE was answered 200. */
  deleted: boolean;
  /** Message ids recorded in flight when it was made: those go out as they were. */
  inFlight: Set<string>;
  step: number;
}

/** An alert subject as a message item gives it. */
type Subject = Pick<AlertItem['subject'], 'wabaId' | 'phoneNumber' | 'templateCode' | 'language'>;

/** Whether the silence's matchers hold for the subject (as README says matchers do: every one equal). */
function covers(s: SoakSilence, subject: Subject): boolean {
  if (s.wabaWide) return subject.wabaId === s.node.wabaId;
  const t = s.node.target;
  return t.NodeType === 'phone' ? subject.phoneNumber === t.PhoneNumber : subject.templateCode === t.TemplateCode && subject.language === t.Language;
}

function matchersOf(n: Node, wabaWide: boolean): Array<{ Name: string; Value: string }> {
  if (wabaWide) return [{ Name: 'WabaId', Value: n.wabaId }];
  const t = n.target;
  return t.NodeType === 'phone'
    ? [{ Name: 'PhoneNumber', Value: t.PhoneNumber! }]
    : [
        { Name: 'TemplateCode', Value: t.TemplateCode! },
        { Name: 'Language', Value: t.Language! },
      ];
}

const [PORT_LOW, PORT_HIGH] = (process.env['SOAK_PORTS'] ?? '53000-53999').split('-').map(Number) as [number, number];

/** A port in SOAK_PORTS nothing listens on. */
async function portInRange(random: () => number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = PORT_LOW + Math.floor(random() * (PORT_HIGH - PORT_LOW + 1));
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${PORT_LOW}-${PORT_HIGH}`);
}

function httpPush(body: unknown): Buffer {
  const e = fixture<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>('fc3-http-event.json');
  Object.assign(e, { rawPath: '/cams/receipts', headers: { 'Content-Type': 'application/json' }, queryParameters: { token: TOKEN }, body: JSON.stringify(body) });
  Object.assign(e.requestContext.http, { method: 'POST', path: '/cams/receipts' });
  return Buffer.from(JSON.stringify(e));
}

const ctx = () => fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The receipt CAMS pushes for the node's new state (as the sandbox's own pusher words it), or for its new quality rating. */
function receiptFor(n: Node, about: 'health' | 'quality'): Record<string, string> {
  if (about === 'quality') return { Type: 'phoneQualityUpdate', WabaId: n.wabaId, PhoneNumber: n.target.PhoneNumber!, Status: n.quality };
  if (n.target.NodeType === 'template') {
    const audit = n.health === 'AVAILABLE' ? 'pass' : n.health === 'LIMITED' ? 'paused' : 'disabled';
    return { Type: 'template', WabaId: n.wabaId, TemplateCode: n.target.TemplateCode!, Language: n.target.Language!, AuditStatus: audit };
  }
  return { Type: 'wabaAccountUpdate', WabaId: n.wabaId, PhoneNumber: n.target.PhoneNumber!, Status: n.health };
}

// One sandbox for the file (the functions keep the CAMS endpoint they first called), reset for each run.
let sandbox: RunningSandbox;
let redis: RedisServer | undefined;
let redisPort = 0;
let aofDir = '';
const persist = () => ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', aofDir];

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'silent';
  // The account's CAMS budget is read from the process's environment (FC's is the function's).
  process.env['CAMS_QPS'] = 'GetWhatsappHealthStatus=50';
  sandbox = await sandboxForFunctions({ qps: { GetWhatsappHealthStatus: 50 } });
});
afterAll(async () => {
  delete process.env['LOG_LEVEL'];
  delete process.env['CAMS_QPS'];
  await sandbox?.close();
  await redis?.stop();
  if (aofDir) rmSync(aofDir, { recursive: true, force: true });
});

async function soak(o: SoakOptions): Promise<SoakRun> {
  const { seed, steps, restartShare, refusalShare, reviewShare } = o;
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  const webhook = await startWebhookReceiver();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const started = Date.now();
    /**
     * The run's plan: every draw, in order, named by what it decides (and each step's start). A seed
     * draws the same plan every run: nothing is drawn after an await, and nothing drawn depends on
     * how a fault landed (a push answered or not), only on earlier draws.
     */
    const plan: string[] = [];
    /** A seeded generator whose draws (named by what they decide) go into the plan. */
    const stream = (name: string, from: number) => {
      const next = seeded(from);
      return (what: string) => {
        const x = next();
        plan.push(`${name}: ${what} ${x}`);
        return x;
      };
    };
    const random = stream('driver', seed);
    const pick = <T>(xs: readonly T[], what: string): T => xs[Math.floor(random(what) * xs.length)]!;
    const chance = (p: number, what: string) => random(what) < p;
    // The webhook's refusals (400) draw from their own generator: the rest of a seed's driver is as it was before them.
    const refusalRandom = stream('refusals', seed + 0x400);
    // So do the WABA reviews' changes (SOAK_REVIEWS=0: none, the run as before them).
    const reviewRandom = stream('reviews', seed + 0x7e1);
    // And CAMS's retries of pushes not answered 200: drawn for every kind of push every step, retried
    // or not, as which pushes failed is the faults' timing, not the seed's.
    const retryRandom = stream('retries', seed + 0x3e7);
    const trace: string[] = [];

    aofDir = mkdtempSync(join(tmpdir(), 'alerts-soak-'));
    // Its own generator: a port found taken must not shift the driver's draws (the run is the seed's).
    redisPort = await portInRange(seeded(seed + 0x5eed));
    redis = await startRedisServer(redisBin!, redisPort, persist());
    const storeUrl = `${redis.url}?namespace=soak-${process.pid}:`;
    const store: Store = await openStore(storeUrl);

    // Two spaces, each a WABA with 2 phones and 3 templates: 10 watched nodes.
    const nodes: Node[] = [];
    const WABAS = ['299399000901', '299399000902'];
    /** Per WABA, the review status of the last wabaReviewUpdate sent for it (its WABA_REVIEW entity). */
    const reviews = new Map<string, Review>(WABAS.map((w) => [w, 'APPROVED']));
    for (const [s, wabaId] of WABAS.entries()) {
      const phones = [0, 1].map((p) => ({ cc: '86', phone: `138000009${s}${p}` }));
      const space = await onboardThroughFunctions(wabaId, phones);
      for (const p of phones) {
        const target: WatchTarget = { CustSpaceId: space, NodeType: 'phone', WabaId: wabaId, PhoneNumber: `86${p.phone}` };
        nodes.push({ name: `phone ${target.PhoneNumber}`, wabaId, target, health: 'AVAILABLE', review: 'AVAILABLE', quality: 'GREEN', seen: new Set(['AVAILABLE']) });
      }
      const templates = [0, 1, 2].map((t) => ({ TemplateCode: `soak_${s}_${t}`, Language: 'en' }));
      await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: templates });
      for (const t of templates) {
        const target: WatchTarget = { CustSpaceId: space, NodeType: 'template', WabaId: wabaId, ...t };
        nodes.push({ name: `template ${t.TemplateCode}`, wabaId, target, health: 'AVAILABLE', review: 'AVAILABLE', quality: 'GREEN', seen: new Set(['AVAILABLE']) });
      }
    }
    for (const n of nodes) await registerWatchTarget(store, n.target, 'soak');
    /** Every kind of push CAMS may retry (a node's health, a phone's quality, a WABA's review), in a fixed order. */
    const pushKinds = [...nodes.flatMap((n) => [`${n.name} health`, ...(n.target.NodeType === 'phone' ? [`${n.name} quality`] : [])]), ...WABAS.map((w) => `WABA ${w} review`)];

    // As serverless.yml gives both functions: one store, one webhook, the documented alert policy
    // (minConsecutive 1, a 4 h repeat interval no run reaches, so a reminder is a double).
    const env = {
      STORE_URL: storeUrl,
      CAMS_ENDPOINT: sandbox.url,
      CAMS_RECEIPT_TOKEN: TOKEN,
      CAMS_QPS: 'GetWhatsappHealthStatus=50',
      MONITOR_QPS: '40',
      ALERT_MIN_CONSECUTIVE: '1',
      ALERT_REPEAT_INTERVAL: '4h',
      ALERT_WEBHOOK_URL: webhook.url,
      ALERT_WEBHOOK_SECRET: webhook.secret,
    };
    // Warm instances, each with its own store connection, as FC keeps them between invocations.
    const monitors = [monitorRuntime(env), monitorRuntime(env)];
    const receiptRuntimes = [monitorRuntime(env), monitorRuntime(env)];
    // The alerts' clock, every instance's: real time, plus the timer's minutes the quiescent ticks stand for
    // (the webhook's 60 messages a minute, which a busy run uses up, then frees its window).
    let skew = 0;
    const alertClock = () => Date.now() + skew;
    const receivers = receiptRuntimes.map((runtime) => camsEventsHandler({ env, write: () => {}, runtime, alertClock }));

    let ticks = 0;
    const tick = async (m: () => Promise<MonitorRuntime>): Promise<string> => {
      const inv = { event: fixture('timer-event.json'), context: ctx(), requestId: `tick-${++ticks}`, deadline: Date.now() + 12_000 };
      try {
        const t0 = Date.now();
        const report = await runHealthMonitor(inv, await m(), alertClock);
        return `${report.skipped ? 'skipped' : report.roundComplete ? 'round' : 'part'} ${Date.now() - t0}ms`;
      } catch (e) {
        return `failed (${e instanceof Error ? e.message.slice(0, 60) : String(e)})`;
      }
    };
    /** CAMS's pushes not yet answered 200, per node and kind (its health, a phone's quality): retried later, the newest only. */
    const unanswered = new Map<string, Record<string, string>>();
    const push = async (receipt: Record<string, string>, i: number): Promise<number> => {
      const r = (await receivers[i]!(httpPush([receipt]), ctx())) as { statusCode: number };
      return r.statusCode;
    };
    /** How CAMS pushes a change (`way` drawn in [0, 1)): lost, to one instance, to both at once, or twice; each attempt's instances. */
    const waysOfPush = (way: number, instance: () => number): number[][] =>
      way < 0.2 ? [] : way < 0.6 ? [[instance()]] : way < 0.85 ? [[0, 1]] : [[instance()], [instance()]];
    const sendsSaid = (sends: number[][]) => (sends.length === 0 ? 'lost' : sends.map((s) => s.join('+')).join(', then '));
    /**
     * Pushes a change's receipt (after CAMS's retry of an unanswered one of its kind, `retryKey`), `at` ms
     * into the step; one no attempt got a 200 for is retried later. A newer push replaces an unanswered older
     * one of its kind: CAMS's retry of it would come out of order.
     */
    const pushChange = (retryKey: string, receipt: Record<string, string>, sends: number[][], retrying: ReadonlyMap<string, Promise<unknown>>, at: number) => {
      unanswered.delete(retryKey);
      return (async () => {
        await retrying.get(retryKey);
        await sleep(at);
        let ok = false;
        for (const batch of sends) ok = (await Promise.all(batch.map((i) => push(receipt, i)))).some((s) => s === 200) || ok;
        // The newest push of its kind is the one CAMS retries; an older one a failed retry put back goes
        // (retried after this one it would re-apply the older state: the one case README leaves ambiguous).
        if (ok) unanswered.delete(retryKey);
        else unanswered.set(retryKey, receipt);
      })();
    };

    let redisDown = false;
    const restartRedis = async (downMs: number) => {
      redisDown = true;
      await redis!.stop();
      await sleep(downMs);
      redis = await startRedisServer(redisBin!, redisPort, persist());
      redisDown = false;
    };

    /** The steps that restarted redis, and per step the webhook's accepted and repeated ids after it. */
    const storeFailedAt = new Set<number>();
    const receivedAfter: number[] = [];
    const rejectedAfter: number[] = [];
    const duplicatesAfter: number[] = [];
    /** Every silence made, and what its DELETEs found wrong (a 404 for one that was there: lost). */
    const silences: SoakSilence[] = [];
    const silenceProblems: string[] = [];
    /** Ends it (DELETE, as the silences function does); false when the store failed (sent again later). */
    const endSilence = async (s: SoakSilence): Promise<boolean> => {
      s.deleteAt ??= alertClock();
      try {
        await deleteSilenceService(store, s.id, alertClock());
        s.deleted = true;
        return true;
      } catch (e) {
        if (e instanceof HttpError && e.status === 404) {
          silenceProblems.push(`silence ${s.id} (step ${s.step}): a DELETE answered 404 (${e.message})`);
          s.deleted = true;
          return true;
        }
        return false;
      }
    };

    /** The delivery lease, once the deliverer holding it (if one does) lets go: at most 60 s. */
    const deliveryLease = async () => {
      for (let i = 0; i < 600; i++) {
        const lease = await store.acquireLease(DELIVERY_LEASE, 30_000);
        if (lease) return lease;
        await sleep(100);
      }
      throw new Error('the delivery lease stayed taken for 60 s');
    };

    for (let step = 0; step < steps; step++) {
      const stepStarted = Date.now();
      plan.push(`step ${step}`);
      const work: Array<Promise<unknown>> = [];
      const what: string[] = [];
      // Silences, made between steps (nothing is delivering: the messages recorded in flight are known
      // exactly): now and then one node, or its whole WABA, for a few seconds (it ends by itself) or
      // for 30 minutes (ended by DELETE, in a later step or when the run goes quiet). The draws are
      // the same every step, whatever was done with them, so a seed's driver stays its own.
      const silenceRoll = random('silence?');
      const silenceNode = pick(nodes, 'silence node');
      const wabaWide = chance(0.2, 'silence WABA-wide?');
      const shortMs = chance(0.4, 'silence short?') ? 1_000 + Math.floor(random('silence ms') * 5_000) : undefined;
      const deleteRoll = random('DELETE early?');
      const deleteAfter = Math.floor(random('DELETE after') * 250);
      // The silences holding, as the plan has them (not the clock, so that how fast the steps ran
      // changes none): one for 30 minutes until its DELETE, a short one (1-6 s) for as many steps
      // after its own as it lasts seconds (a step takes 0.5-1 s).
      const holding = silences.filter((x) => x.deleteAt === undefined && (x.endsAt - x.createdAt > 60_000 || step - x.step <= Math.ceil((x.endsAt - x.createdAt) / 1_000)));
      // Made under the delivery lease: a deliverer still in a pass (a flush a tick left behind) has
      // read the silences already, and its message goes out as it was (README: a silence made
      // mid-delivery applies from the next message); under the lease, none is, and every message
      // recorded before the silence is in `inFlight`.
      const lease = silenceRoll < 0.12 && holding.length < 2 ? await deliveryLease() : undefined;
      if (lease) {
        const now = alertClock();
        const endsAt = now + (shortMs ?? 30 * 60_000);
        let r: Awaited<ReturnType<typeof createSilenceService>>;
        let inFlight: Set<string>;
        try {
          r = await createSilenceService(
            store,
            { Matchers: matchersOf(silenceNode, wabaWide), EndsAt: new Date(endsAt).toISOString(), CreatedBy: 'soak', Comment: `step ${step}` },
            now,
          );
          inFlight = new Set((await store.list<{ id: string }>(SENDING_PREFIX)).map((x) => x.value.id));
        } finally {
          await lease.release();
        }
        const id = (r.data as { SilenceId: string }).SilenceId;
        silences.push({ id, node: silenceNode, wabaWide, createdAt: now, endsAt, deleted: false, inFlight, step });
        what.push(`silence ${wabaWide ? `WABA ${silenceNode.wabaId}` : silenceNode.name} ${shortMs ? `for ${shortMs} ms` : 'for 30 min'}`);
        plan.push(what.at(-1)!);
      }
      // A DELETE not yet answered is sent again; one in force (made for 30 minutes) is ended early,
      // at some point in the step, as redis may restart.
      for (const x of silences.filter((x) => x.deleteAt !== undefined && !x.deleted)) {
        what.push(`DELETE silence of step ${x.step} again`);
        work.push(endSilence(x));
      }
      const early = holding.find((x) => x.endsAt - x.createdAt > 60_000);
      if (deleteRoll < 0.2 && early) {
        what.push(`DELETE silence of step ${early.step} at +${deleteAfter} ms`);
        work.push(sleep(deleteAfter).then(() => endSilence(early)));
      }
      // CAMS retries a push it got no 200 for, now and then (a newer push for that node waits for it).
      const retrying = new Map<string, Promise<unknown>>();
      for (const k of pushKinds) {
        const again = retryRandom(`retry ${k}?`) < 0.4;
        const to = retryRandom(`retry ${k} to`) < 0.5 ? 0 : 1;
        const receipt = unanswered.get(k);
        if (!again || !receipt) continue;
        unanswered.delete(k);
        what.push(`retry ${k}`);
        const retry = push(receipt, to).then((s) => s !== 200 && !unanswered.has(k) && unanswered.set(k, receipt));
        retrying.set(k, retry);
        work.push(retry);
      }
      // One node (sometimes two) changes its health (a phone, now and then, its quality rating only);
      // the receipt is pushed to one or two instances, twice, or lost.
      const changed = chance(0.4, 'two changes?') ? [pick(nodes, 'changed'), pick(nodes, 'changed')] : [pick(nodes, 'changed')];
      // The pushes of a step start together half the time (deliverers of two instances at once), else apart.
      const together = chance(0.5, 'pushes together?') ? Math.floor(random('pushes at') * 150) : undefined;
      for (const n of new Set(changed)) {
        const about = n.target.NodeType === 'phone' && chance(0.3, `${n.name} quality?`) ? 'quality' : 'health';
        // A rating is known only from its receipt: one that is lost changes nothing the monitor can see.
        const quality = pick(QUALITIES.filter((q) => q !== n.quality), `${n.name} quality`);
        if (about === 'health') {
          n.health = pick(HEALTHS.filter((h) => h !== n.health), `${n.name} health`);
          n.seen.add(n.health);
          await setHealth(sandbox, { ...n.target, CanSendMessage: n.health });
        }
        const receipt = receiptFor({ ...n, quality }, about);
        const sends = waysOfPush(random(`${n.name} push`), () => pick([0, 1], `${n.name} push to`));
        what.push(`${n.name} → ${about === 'quality' ? quality : n.health} (receipt ${sendsSaid(sends)})`);
        if (sends.length === 0) continue;
        if (about === 'quality') n.quality = quality;
        else if (n.target.NodeType === 'template') n.review = n.health;
        // Drawn now, not once the push's retry is answered: that would draw in the order the pushes ran.
        const at = together ?? Math.floor(random(`${n.name} push at`) * 150);
        work.push(pushChange(`${n.name} ${about}`, receipt, sends, retrying, at));
      }
      // Now and then a WABA's review changes: CAMS's wabaReviewUpdate is all that says it here (no check
      // sees it, and discovery, its backstop, has no Discover entry to run for). Its own generator, drawn
      // alike every step: the rest of the driver is the seed's as before reviews.
      const reviewRoll = reviewRandom('review?');
      const reviewWaba = WABAS[Math.floor(reviewRandom('review WABA') * WABAS.length)]!;
      const reviewOthers = REVIEW_STATES.filter((r) => r !== reviews.get(reviewWaba));
      const reviewTo = reviewOthers[Math.floor(reviewRandom('review to') * reviewOthers.length)]!;
      const reviewSends = waysOfPush(reviewRandom('review push'), () => (reviewRandom('review push to') < 0.5 ? 0 : 1));
      const reviewDelay = Math.floor(reviewRandom('review push at') * 150);
      if (reviewRoll < reviewShare) {
        what.push(`WABA ${reviewWaba} review → ${reviewTo} (receipt ${sendsSaid(reviewSends)})`);
        if (reviewSends.length > 0) {
          reviews.set(reviewWaba, reviewTo);
          work.push(pushChange(`WABA ${reviewWaba} review`, { Type: 'wabaReviewUpdate', WabaId: reviewWaba, Status: reviewTo }, reviewSends, retrying, reviewDelay));
        }
      }
      // One or two ticks at once, on two monitor instances.
      const both = chance(0.35, 'two ticks?');
      what.push(both ? 'two ticks' : 'tick');
      const tickResults: Array<Promise<string>> = [tick(monitors[0]!)];
      if (both) tickResults.push(sleep(Math.floor(random('second tick at') * 100)).then(() => tick(monitors[1]!)));
      work.push(...tickResults);
      // Faults: the webhook answers 500 or never answers; redis is killed and comes back.
      const refuseRoll = refusalRandom('refuse?');
      const refuseCount = 1 + Math.floor(refusalRandom('refusals') * 2 * SINK_REFUSALS);
      if (chance(0.12, 'webhook 500?')) {
        const k = 1 + Math.floor(random('webhook 500s') * 3);
        webhook.failNext(k);
        what.push(`webhook 500 ×${k}`);
      } else if (refuseRoll < refusalShare) {
        // Refused for good (a channel's keyword filter, a bad payload): given up at the third refusal of one message.
        webhook.failNext(refuseCount, 400);
        what.push(`webhook 400 ×${refuseCount}`);
      } else if (chance(0.03, 'webhook hangs?')) {
        webhook.hangNext(1);
        what.push('webhook hangs once');
      } else if (chance(0.3, 'webhook slow?')) {
        // A slow channel: a deliverer holds the lease while other instances find alerts (README: deliver-again).
        const k = 1 + Math.floor(random('webhook slow answers') * 3);
        const ms = 100 + Math.floor(random('webhook slow ms') * 700);
        webhook.slowNext(k, ms);
        what.push(`webhook answers ${ms} ms late ×${k}`);
      }
      if (chance(restartShare, 'redis restart?')) {
        storeFailedAt.add(step);
        const after = Math.floor(random('redis restart at') * 250);
        const down = 50 + Math.floor(random('redis down ms') * 300);
        what.push(`redis restarted at +${after} ms for ${down} ms`);
        work.push(sleep(after).then(() => restartRedis(down)));
      }
      await Promise.all(work);
      trace.push(`${step}: ${what.join('; ')} → ticks ${(await Promise.all(tickResults)).join(', ')} (${Date.now() - stepStarted} ms)`);
      receivedAfter.push(webhook.received.length);
      rejectedAfter.push(webhook.rejected.length);
      duplicatesAfter.push(webhook.duplicates.length);
    }

    // Quiescent: faults off, CAMS's retries answered, then clean ticks until two rounds completed and nothing is owed.
    webhook.failNext(0);
    webhook.hangNext(0);
    webhook.slowNext(0, 0);
    expect(redisDown).toBe(false);
    // Every silence ends now: those in force are deleted, a DELETE unanswered is sent again.
    for (const x of silences.filter((x) => !x.deleted && (x.deleteAt !== undefined || x.endsAt > alertClock()))) {
      let ok = false;
      for (let i = 0; i < 20 && !ok; i++) ok = await endSilence(x);
      trace.push(`quiescent: DELETE silence of step ${x.step} → ${ok ? 'ended' : 'store failing'}`);
    }
    for (const [k, receipt] of unanswered) {
      let status = 0;
      for (let i = 0; i < 20 && status !== 200; i++) {
        status = await push(receipt, 0);
        if (status !== 200) await sleep(250);
      }
      trace.push(`quiescent: retry ${k} → ${status}`);
    }
    const quietUntil = Date.now() + 60_000;
    let rounds = 0;
    let owed = -1;
    while (Date.now() < quietUntil) {
      skew += 60_000; // a timer tick a minute after the last
      const r = await tick(monitors[0]!);
      if (r.startsWith('round')) rounds++;
      owed = (await store.list(OWED_PREFIX)).length;
      if (rounds >= 2 && owed === 0) break;
      await sleep(r.startsWith('round') ? 250 : 500);
    }
    trace.push(`quiescent: ${rounds} rounds, ${owed} owed`);

    // What the webhook accepted (each id once), item by item, in the order it was sent.
    /** One item as accepted: the id of its message, the step it came in (steps: the quiescent phase) and its message's item count. */
    const problems: string[] = [];
    // A message the webhook refused SINK_REFUSALS times is given up (struck off, not heard): it counts
    // as told at its last refusal, in its place among the accepted ones.
    type Seen = Pick<AlertItem, 'fingerprint' | 'status' | 'reason' | 'subject' | 'node' | 'errors'> & { id: string; at: number; step: number; of: number; givenUp?: boolean };
    const byAlert = new Map<string, Seen[]>();
    const stepOf = (counts: number[], index: number) => {
      const step = counts.findIndex((c) => c > index);
      return step < 0 ? steps : step;
    };
    const acceptedIds = new Set(webhook.received.map((m) => (m.body as { id: string }).id));
    const refusals = new Map<string, number>();
    /** Per message refused, the steps of its refusals. */
    const refusedAt = new Map<string, number[]>();
    const told: Array<{ at: number; body: { id: string; items: Seen[] }; step: number; givenUp?: boolean }> = webhook.received.map((m, index) => ({
      at: m.at,
      body: m.body as { id: string; items: Seen[] },
      step: stepOf(receivedAfter, index),
    }));
    const givenUp = new Map<string, number>();
    // A store failing at the write that counts a refusal (any of them, not only the last) loses that
    // answer, as a lost confirmation would, and the message goes again (README): so a message the
    // webhook refused SINK_REFUSALS times may be sent once more if the store failed since its first refusal.
    const storeFailedSinceRefused = (id: string, step: number) => [...storeFailedAt].some((s) => s >= refusedAt.get(id)![0]! && s <= step);
    for (const [index, r] of webhook.rejected.entries()) {
      if (r.status !== 400 || r.raw === undefined) continue;
      const body = JSON.parse(r.raw) as { id: string; items: Seen[] };
      const n = (refusals.get(body.id) ?? 0) + 1;
      refusals.set(body.id, n);
      const step = stepOf(rejectedAfter, index);
      refusedAt.set(body.id, [...(refusedAt.get(body.id) ?? []), step]);
      if (n === SINK_REFUSALS) {
        givenUp.set(body.id, step);
        if (!acceptedIds.has(body.id)) told.push({ at: r.at, body, step, givenUp: true });
      } else if (n > SINK_REFUSALS && !storeFailedSinceRefused(body.id, step)) {
        problems.push(`notification ${body.id}: given up at step ${givenUp.get(body.id)}, refused again (${n}) at step ${step}, with no store failure since its first refusal`);
      }
    }
    for (const [index, m] of webhook.received.entries()) {
      const id = (m.body as { id: string }).id;
      const step = stepOf(receivedAfter, index);
      if (givenUp.has(id) && givenUp.get(id)! <= step && webhook.received.findIndex((x) => (x.body as { id: string }).id === id) === index) {
        if (!storeFailedSinceRefused(id, step)) problems.push(`notification ${id}: given up at step ${givenUp.get(id)}, accepted at step ${step}, with no store failure since its first refusal`);
      }
    }
    told.sort((a, b) => a.at - b.at);
    for (const m of told) {
      for (const item of m.body.items) {
        const list = byAlert.get(item.fingerprint) ?? [];
        list.push({ ...item, id: m.body.id, at: m.at, step: m.step, of: m.body.items.length, ...(m.givenUp ? { givenUp: true } : {}) });
        byAlert.set(item.fingerprint, list);
      }
    }
    const nodeOf = (s: Seen['subject']) =>
      nodes.find((n) => (s.phoneNumber !== undefined ? n.target.PhoneNumber === s.phoneNumber : s.templateCode !== undefined && n.target.TemplateCode === s.templateCode));
    /**
     * The alert's true state now, as a status and its error codes: its node's check, its template's
     * last review, its phone's last rating (YELLOW and RED are both LIMITED, told by their code),
     * its WABA's last review (REJECTED and DISABLED are both BLOCKED, told by their code), AVAILABLE for the rest.
     */
    const truth = (s: Seen['subject']): string => {
      if (s.entityType === 'WABA_REVIEW') {
        const r = reviews.get(s.wabaId ?? '') ?? 'APPROVED';
        return r === 'APPROVED' ? 'AVAILABLE' : `BLOCKED ${r === 'REJECTED' ? 'Waba.Rejected' : 'Waba.Disabled'}`;
      }
      const n = nodeOf(s);
      if (!n || s.nodeType === 'monitor') return 'AVAILABLE';
      if (s.entityType === 'PHONE_NUMBER' || s.entityType === 'MESSAGE_TEMPLATE') return n.health;
      if (s.entityType === 'TEMPLATE_STATUS') return n.review === 'AVAILABLE' ? 'AVAILABLE' : `${n.review} ${n.review === 'LIMITED' ? 'Template.Paused' : 'Template.Disabled'}`;
      if (s.entityType === 'PHONE_QUALITY') return n.quality === 'GREEN' ? 'AVAILABLE' : `LIMITED QualityRating.${n.quality}`;
      return 'AVAILABLE'; // WABA, BUSINESS, APP: never changed here
    };
    /** What a notification says: RESOLVED, or a firing status with its error codes. */
    const said = (i: Seen) => (i.status === 'RESOLVED' ? 'RESOLVED' : [i.status, ...i.errors.map((e) => e.ErrorCode)].join(' '));

    problems.unshift(...(owed === 0 ? [] : [`quiescent: ${owed} entities still owe a delivery`]));
    problems.push(...silenceProblems);
    // Nothing a silence covers is sent in its span (it started before any deliverer of its step, and
    // a message sent before it ended was checked before that), but a message recorded before it.
    for (const m of webhook.received) {
      const body = m.body as { id: string; items: Seen[] };
      for (const x of silences) {
        if (m.at < x.createdAt || m.at >= Math.min(x.endsAt, x.deleteAt ?? Infinity) || x.inFlight.has(body.id)) continue;
        for (const item of body.items.filter((i) => covers(x, i.subject))) {
          problems.push(`${item.node} ${item.subject.entityType}: ${said(item)}/${item.reason} sent in ${body.id.slice(0, 8)} while the silence of step ${x.step} held`);
        }
      }
    }
    // GET /silences lists each silence once, ended.
    const listing = ((await listSilencesService(store, alertClock(), { PageSize: 500 })).data as { Silences: Array<{ SilenceId: string; State: string }> }).Silences;
    for (const x of silences) {
      const listed = listing.filter((l) => l.SilenceId === x.id);
      if (listed.length !== 1 || listed[0]!.State !== 'expired') problems.push(`silence of step ${x.step}: listed ${listed.length} times, ${listed.map((l) => l.State).join(', ')}`);
    }
    const story = (seen: Seen[]) => seen.map((i) => `${said(i)}/${i.reason} (step ${i.step}, ${i.id.slice(0, 8)} of ${i.of}${i.givenUp ? ', given up' : ''})`).join(' → ');
    /** Whether a silence covering the subject held at some time in (from, to). */
    const silencedBetween = (subject: Subject, from: number, to: number) =>
      silences.some((x) => covers(x, subject) && x.createdAt < to && Math.min(x.endsAt, x.deleteAt ?? Infinity) > from);
    for (const [fp, seen] of byAlert) {
      const about = `${seen[0]!.node} ${seen[0]!.subject.entityType} [${fp}]`;
      // What was told (a message given up counts) and what the webhook heard (it does not: README, a
      // message refused for good is not heard). A silence lifted tells each sink an alert it struck
      // something of from what the sink last heard, the rules go on from what was told: after a silence,
      // the next message may follow either (`since`, the firing states it may follow; undefined: resolved).
      let firing: string | undefined;
      let heard: string | undefined;
      let before = -Infinity;
      for (const [i, item] of seen.entries()) {
        const since = silencedBetween(item.subject, before, item.at) ? [firing, heard] : [firing];
        before = item.at;
        if (!item.givenUp) heard = item.status === 'RESOLVED' ? undefined : said(item);
        if (item.status === 'RESOLVED') {
          if (since.every((f) => f === undefined)) problems.push(`${about}: RESOLVED with no firing notification before it (#${i}): ${story(seen)}`);
          firing = undefined;
        } else {
          if (since.every((f) => f === said(item))) problems.push(`${about}: ${firing} notified twice in a row (#${i}, ${item.reason}): ${story(seen)}`);
          firing = said(item);
        }
        if (item.reason === 'reminder') problems.push(`${about}: a reminder within the 4 h repeat interval (#${i})`);
        // A state the node never was in is made up (its check's entity only: receipts' states are what they said).
        const n = nodeOf(item.subject);
        const checked = item.subject.entityType === 'PHONE_NUMBER' || item.subject.entityType === 'MESSAGE_TEMPLATE';
        if (checked && n && item.status !== 'RESOLVED' && !n.seen.has(item.status as Health)) problems.push(`${about}: notified ${item.status}, a state it never had (#${i})`);
      }
      const last = seen.at(-1)!;
      // After a silence, what the webhook heard may stand (a lifted silence tells nothing a sink already heard).
      const notified = [firing, ...(silencedBetween(last.subject, last.at, Infinity) ? [heard] : [])].map((f) => f ?? 'AVAILABLE');
      if (!notified.includes(truth(last.subject))) problems.push(`${about}: last notified ${notified.join(' or ')}, but it is ${truth(last.subject)}: ${story(seen)}`);
    }
    // A node whose alert never said anything must be AVAILABLE (nothing lost).
    const notifiedAbout = (n: Node, entityType: string) =>
      [...byAlert.values()].some((seen) => seen[0]!.subject.entityType === entityType && nodeOf(seen[0]!.subject) === n);
    for (const n of nodes) {
      const health = n.target.NodeType === 'phone' ? 'PHONE_NUMBER' : 'MESSAGE_TEMPLATE';
      if (n.health !== 'AVAILABLE' && !notifiedAbout(n, health)) problems.push(`${n.name} ${health}: is ${n.health}, never notified`);
      if (n.target.NodeType === 'template' && n.review !== 'AVAILABLE' && !notifiedAbout(n, 'TEMPLATE_STATUS')) {
        problems.push(`${n.name} TEMPLATE_STATUS: reviewed ${n.review}, never notified`);
      }
      if (n.quality !== 'GREEN' && !notifiedAbout(n, 'PHONE_QUALITY')) problems.push(`${n.name} PHONE_QUALITY: rated ${n.quality}, never notified`);
    }
    for (const [wabaId, review] of reviews) {
      const notified = [...byAlert.values()].some((seen) => seen[0]!.subject.entityType === 'WABA_REVIEW' && seen[0]!.subject.wabaId === wabaId);
      if (review !== 'APPROVED' && !notified) problems.push(`WABA ${wabaId} WABA_REVIEW: reviewed ${review}, never notified`);
    }
    // One entity per node and kind (a second fingerprint for one node would be a second alert about it).
    const kinds = new Map<string, string>();
    for (const [fp, seen] of byAlert) {
      const k = `${seen[0]!.node} ${seen[0]!.subject.entityType}`;
      if (kinds.has(k)) problems.push(`${k}: two fingerprints ${kinds.get(k)} and ${fp}`);
      kinds.set(k, fp);
    }
    // The same X-Alert-Id again only after a store failure since it was first accepted (between its send
    // and its strike: the next deliverer sends it again, once that one's lease is free). Step steps is the quiescent phase.
    for (const [index, id] of webhook.duplicates.entries()) {
      const again = stepOf(duplicatesAfter, index);
      const first = stepOf(receivedAfter, webhook.received.findIndex((m) => (m.body as { id: string }).id === id));
      const failed = [...storeFailedAt].filter((s) => s >= first && s <= again);
      if (failed.length === 0) problems.push(`notification ${id}: accepted at step ${first}, sent again at step ${again}, with no store failure between`);
    }
    if (unhandled.length) problems.push(`unhandled rejections: ${unhandled.map(String).join('; ')}`);
    await store.close();
    for (const m of [...monitors, ...receiptRuntimes]) await (await m()).store.close().catch(() => undefined);

    const report = [
      `alerts soak: SOAK_SEED=${seed} SOAK_STEPS=${steps}: ${problems.length} discrepancies`,
      ...problems,
      '--- steps',
      ...trace,
      '--- what the webhook accepted, per alert',
      ...[...byAlert.values()].map((seen) => `${seen[0]!.node} ${seen[0]!.subject.entityType}: ${story(seen)}`),
      `--- silences: ${silences.map((x) => `step ${x.step} ${x.wabaWide ? `WABA ${x.node.wabaId}` : x.node.name} ${x.id} +${Math.min(x.endsAt, x.deleteAt ?? Infinity) - x.createdAt} ms${x.inFlight.size ? ` (in flight: ${[...x.inFlight].join(', ')})` : ''}`).join('; ') || 'none'}`,
      `--- ids refused (400): ${[...refusals].map(([id, n]) => `${id} ×${n} (steps ${refusedAt.get(id)!.join(', ')})`).join(', ') || 'none'}; given up: ${[...givenUp].map(([id, step]) => `${id} (step ${step})`).join(', ') || 'none'}`,
      `--- ids delivered again (store failures at steps ${[...storeFailedAt].join(', ') || 'none'}): ${webhook.duplicates.join(', ') || 'none'}`,
    ].join('\n');
    if (process.env['SOAK_VERBOSE'] || problems.length) console.log(report);
    return { problems, report, plan, rounds, span: skew + (Date.now() - started) };
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await webhook.close();
    await redis?.stop();
    redis = undefined;
    if (aofDir) rmSync(aofDir, { recursive: true, force: true });
  }
}

describe.skipIf(!redisBin)('alerts soak: monitor ticks and receipt instances at once on redis, faults injected', () => {
  it(`${STEPS} seeded steps (seed ${SEED}): every alert's notifications are consistent, end in the true state, and no id arrives twice without a store failure`, async () => {
    const run = await soakOrSay(RUN, 'seeded steps');
    expect(run.problems, `${run.report}\n${rerun(RUN, 'seeded steps')}`).toEqual([]);
    expect(run.rounds).toBeGreaterThanOrEqual(2);
    // Far from the 4 h repeat interval, so that any reminder is a double.
    expect(run.span).toBeLessThan(HOUR);
  }, 180_000 + STEPS * 2_000);

  // A seed is a run: the same steps, faults and draws every time it runs (README), whatever the
  // machine's speed made of them. A short run of it, with redis restarted often so that pushes fail
  // and are retried, twice: their plans must be the same.
  const twice: SoakOptions = { ...RUN, steps: Math.min(STEPS, 12), restartShare: Math.max(RESTARTS, 0.5) };
  it(`seed ${SEED} draws the same plan every run (${twice.steps} steps, redis restarted in ${twice.restartShare} of them)`, async () => {
    const first = await soakOrSay(twice, 'same plan');
    const second = await soakOrSay(twice, 'same plan');
    expect(second.plan, `seed ${twice.seed} drew another plan the second time; ${rerun(twice, 'same plan')}`).toEqual(first.plan);
    expect([...first.problems, ...second.problems], `${first.report}\n${second.report}\n${rerun(twice, 'same plan')}`).toEqual([]);
  }, 2 * (180_000 + twice.steps * 2_000));
});
