/**
 * function-cold-start (issues: HTTP functions, #11). For each HTTP function in dist/: a fresh
 * process requires dist/<fn>/index.js (the loader: main.js with its V8 code cache) and invokes
 * `handler(Buffer(event), context)` once with a real, freshly signed FC 3.0 HTTP trigger event,
 * until its reply (lib/fn-runner.cjs). Side by side, alternating, medians:
 *   - the official SDK making the same call from node_modules (bench/baselines/sdk-handler.ts,
 *     compiled with @alicloud/* left external, resolved from node_modules at run time);
 *   - a hand-written floor (bench/baselines/floor-handler.ts: parse the event, HMAC + one node:http
 *     POST), the least any Node function making one signed call pays;
 *   - bare `node -e 0`.
 * Goals: overhead over bare ≤ 0.25 × the SDK's; ≤ the floor's + 8 ms; peak memory ≤ bare + 10 MB;
 * and the eager bundle (index.js + main.js, lazy/ excluded) of EVERY function ≤ 200 KB.
 * With redis-server on PATH, each function also runs on redis: STORE_URL=redis:// (a real
 * redis-server on loopback), where its first request also stores the caller's nonce and takes a
 * CAMS budget slot; goal: the store adds ≤ 5 ms of CPU to the same function without one (the
 * median of the two's differences round by round). With openssl on PATH as well, each runs as it is
 * deployed on FC: on redis, CAMS over https (test/support/tls-front.ts), and TLS roots read from a
 * hashed directory as serverless.yml sets it up (NODE_OPTIONS=--use-openssl-ca, SSL_CERT_DIR:
 * Node's bundled roots and the bench's CA, scripts/root-store.ts), against the SDK over the same
 * https with the same roots; the same ratio goals, and the floor's goal against the floor making
 * its call over the same https (node:https) with the same roots. One reference row runs the first function with
 * Node's bundled roots instead (the CA through NODE_EXTRA_CA_CERTS), as before serverless.yml set
 * the directory up.
 * The first two are also reported in CPU time (user + system, from the runner's start to the reply,
 * as the runner reads it): on a shared, loaded machine wall time mostly measures the wait for a
 * core, CPU time what the process itself did.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { basename, dirname, join } from 'node:path';
import { CODE_CACHE_FILE } from '../scripts/loader.ts';
import { rootStoreEnv, writeRootStore } from '../scripts/root-store.ts';
import { findOnPath, startRedisServer, type RedisServer } from '../test/shared/store/redis-server.ts';
import { signRouteRequest, type RouteRequest } from '../local/client/route-request.ts';
import { fcContext, httpEvent } from '../test/support/events.ts';
import { bundleCjs, ensureBuilt, REPO_ROOT, tempDir } from './lib/bundle.ts';
import { BENCH_CALLER_KEY, BENCH_WABA_ID, functionEnv, ROUTE_HOST, startBenchSandbox, type BenchSandbox } from './lib/sandbox.ts';
import { alternate, markSpan, memorySource, timedNode, type ProcessSample, type Variant } from './lib/spawn.ts';
import { median, overhead, overheadRatio, pairedDifferences, round, roundSummary, summarize } from './lib/stats.ts';
import { kb, mb } from './lib/table.ts';
import { startTlsFront, type TlsFront } from '../test/support/tls-front.ts';
import { goal, type Benchmark, type BenchResult, type Goal } from './lib/types.ts';

const DEFAULT_ROUNDS = 20;
export const GOAL_RATIO = 0.25;
export const GOAL_OVER_FLOOR_MS = 8;
export const GOAL_EXTRA_MEMORY_MB = 10;
export const GOAL_BUNDLE_KB = 200;
/** What STORE_URL=redis:// may add to a first request: a connection and three commands on loopback. */
export const GOAL_STORE_EXTRA_MS = 5;
/**
 * Every function, for the bundle-size goal (the cold-start runs are for the HTTP ones): each folder of
 * functions/ with a handler, read at run time, so a function added later is measured too (a written
 * list had left out cams-events, silences, status-page and watch-list).
 */
export function allFunctions(root = REPO_ROOT): string[] {
  return readdirSync(join(root, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'functions', d.name, 'handler.ts')))
    .map((d) => d.name)
    .sort();
}

let phoneSeq = 0;

/** The HTTP functions and one valid request each; every call is fresh (add-phone-number: a new number). */
export const HTTP_FUNCTIONS: Record<string, (b: BenchSandbox) => RouteRequest> = {
  'bind-waba': () => ({ method: 'POST', path: '/waba/bind', body: { WabaId: BENCH_WABA_ID } }),
  'query-waba': (b) => ({ method: 'GET', path: '/waba', query: { CustSpaceId: b.custSpaceId } }),
  'add-phone-number': (b) => ({
    method: 'POST',
    path: '/phone-numbers',
    // Unique per call and per benchmark run: the sandbox refuses a number added twice.
    body: { CustSpaceId: b.custSpaceId, Cc: '65', PhoneNumber: `9${String(process.pid % 1000).padStart(3, '0')}${String(++phoneSeq).padStart(6, '0')}`, VerifiedName: 'Bench Shop' },
  }),
  'get-health-status': (b) => ({ method: 'GET', path: '/health-status', query: { CustSpaceId: b.custSpaceId, NodeType: 'waba', WabaId: BENCH_WABA_ID } }),
};

/** FC 3.0 HTTP trigger event (as test/support/events.ts builds it), signed now with a fresh nonce. */
function freshEvent(req: RouteRequest): string {
  const signed = signRouteRequest(req, ROUTE_HOST, BENCH_CALLER_KEY, { nonce: randomUUID() });
  return httpEvent(signed, 'fc-http').toString('utf8');
}

export const functionColdStart: Benchmark = {
  name: 'function-cold-start',
  issue: 'HTTP functions',
  description: 'fresh process: require dist/<fn>/index.js + one signed FC 3.0 HTTP invocation — ours vs the official SDK from node_modules vs a hand-written floor vs `node -e 0`; eager bundle size of every function',
  async run({ runs, log }): Promise<BenchResult> {
    const startedAt = new Date();
    const rounds = runs ?? DEFAULT_ROUNDS;
    const all = await ensureBuilt(allFunctions(), log);
    const dist = { ...all, built: all.built.filter((f) => f.name in HTTP_FUNCTIONS), missing: all.missing.filter((m) => Object.keys(HTTP_FUNCTIONS).some((f) => m.startsWith(`${f} `))) };
    if (dist.built.length === 0) throw new Error(`no HTTP function bundle in dist/ (missing: ${dist.missing.join(', ')})`);
    const dir = tempDir('fn');
    // the SDK as an application would use it: require()d from node_modules, not bundled
    const baseline = await bundleCjs('bench/baselines/sdk-handler.ts', join(dir, 'sdk-handler.js'), { external: ['@alicloud/*'] });
    log(`compiled bench/baselines/sdk-handler.ts (@alicloud/* from node_modules): ${kb(baseline.bytes).toFixed(1)} KB`);
    const floor = await bundleCjs('bench/baselines/floor-handler.ts', join(dir, 'floor-handler.js'));
    const runner = join(REPO_ROOT, 'bench/lib/fn-runner.cjs');

    const sb = await startBenchSandbox();
    const redisBin = findOnPath('redis-server');
    let redis: RedisServer | undefined;
    let tlsFront: TlsFront | undefined;
    try {
      redis = redisBin ? await startRedisServer(redisBin) : undefined;
      const sandboxUrl = new URL(sb.sandbox.url);
      tlsFront = await startTlsFront(findOnPath('openssl'), { host: sandboxUrl.hostname, port: Number(sandboxUrl.port) });
      const baseEnv = functionEnv(sb);
      const context = JSON.stringify(fcContext({ requestId: 'bench-cold-start' }));
      const invoke = (bundle: string, fn: string, extraEnv: Record<string, string> = {}) => () =>
        timedNode({ args: [runner, bundle], env: { ...baseEnv, ...extraEnv, BENCH_EVENT: freshEvent(HTTP_FUNCTIONS[fn]!(sb)), BENCH_CONTEXT: context }, cwd: REPO_ROOT });
      const fromNodeModules = { NODE_PATH: join(REPO_ROOT, 'node_modules') };
      // TLS roots as serverless.yml has FC read them: Node's bundled roots as a hashed directory,
      // with the bench's CA among them, as CAMS's public root is among them on FC.
      const rootsDir = join(dir, 'roots');
      if (tlsFront) writeRootStore(rootsDir, [...rootCertificates, readFileSync(tlsFront.caFile, 'utf8')]);
      const rootsEnv = rootStoreEnv(rootsDir);
      const variants: Variant[] = [
        { name: 'bare', run: () => timedNode({ args: ['-e', '0'], env: {}, cwd: REPO_ROOT }) },
        // What any Node 20 TLS client pays once, before its first handshake: the root store built
        // from node's ~140 bundled CA certificates (a `ca` option does not avoid it).
        { name: 'roots', run: () => timedNode({ args: ['-e', "require('node:tls').createSecureContext()"], env: {}, cwd: REPO_ROOT }) },
        { name: 'floor', run: invoke(floor.file, 'get-health-status') },
        { name: 'runner', run: invoke(join(REPO_ROOT, 'bench/baselines/answer-handler.cjs'), 'get-health-status') },
      ];
      // reference: the first function's bundle without its V8 code cache (a copy of its folder
      // without main.js.cache: the loader then compiles main.js as require() would)
      const ref = dist.built[0]!;
      const noCache = join(dir, 'nocache', ref.name);
      cpSync(dirname(ref.file), noCache, { recursive: true, filter: (src) => basename(src) !== CODE_CACHE_FILE });
      variants.push({ name: 'nocache', run: invoke(join(noCache, 'index.js'), ref.name) });
      for (const f of dist.built) {
        variants.push({ name: `ours:${f.name}`, run: invoke(f.file, f.name) });
        variants.push({ name: `sdk:${f.name}`, run: invoke(baseline.file, f.name, fromNodeModules) });
        // Each variant on redis has a namespace of its own: one CAMS budget per variant, so no row
        // waits for the slot another row's process took moments before.
        const onRedis = (variant: string) => ({ STORE_URL: `${redis!.url}?namespace=bench-cold-start:${variant}:` });
        if (redis) variants.push({ name: `redis:${f.name}`, run: invoke(f.file, f.name, onRedis(`redis:${f.name}`)) });
        // As deployed on FC: CAMS over https, TLS roots from the hashed directory, the store on
        // redis; the SDK over the same https with the same roots.
        if (redis && tlsFront) {
          const https = { CAMS_ENDPOINT: tlsFront.url, ...rootsEnv };
          if (f === ref) variants.push({ name: 'floor-deployed', run: invoke(floor.file, 'get-health-status', https) });
          variants.push({ name: `deployed:${f.name}`, run: invoke(f.file, f.name, { ...https, ...onRedis(`deployed:${f.name}`) }) });
          variants.push({ name: `sdk-https:${f.name}`, run: invoke(baseline.file, f.name, { ...fromNodeModules, ...https }) });
          // reference: Node's bundled roots, the bench's CA through NODE_EXTRA_CA_CERTS
          if (f === ref) {
            const bundled = { CAMS_ENDPOINT: tlsFront.url, NODE_EXTRA_CA_CERTS: tlsFront.caFile };
            variants.push({ name: `deployed-bundled:${f.name}`, run: invoke(f.file, f.name, { ...bundled, ...onRedis(`deployed-bundled:${f.name}`) }) });
            variants.push({ name: `sdk-https-bundled:${f.name}`, run: invoke(baseline.file, f.name, { ...fromNodeModules, ...bundled }) });
          }
        }
      }
      log(`${dist.built.length} function(s) × (ours, sdk${redis ? ', ours on redis' : ''}${redis && tlsFront ? ', ours as deployed, sdk over https' : ''}) + bare, ${rounds} rounds`);
      const samples = await alternate(variants, { rounds, warmupRounds: 1, log });
      const result = report(samples, dist, all.built, { sdk: baseline.bytes, floor: floor.bytes }, startedAt, rounds);
      if (!redis) result.notes.push('redis-server is not on PATH: the "on redis" and "as deployed" rows are missing.');
      if (!tlsFront) result.notes.push('openssl is not on PATH (it makes the https certificate): the "as deployed" rows are missing.');
      return result;
    } finally {
      await tlsFront?.close();
      await redis?.stop();
      await sb.close();
    }
  },
};

function report(
  samples: Record<string, ProcessSample[]>,
  dist: Awaited<ReturnType<typeof ensureBuilt>>,
  allBuilt: Awaited<ReturnType<typeof ensureBuilt>>['built'],
  bytes: { sdk: number; floor: number },
  startedAt: Date,
  rounds: number,
): BenchResult {
  const wall = (v: string) => samples[v]!.map((s) => s.wallMs);
  const rss = (v: string) => samples[v]!.map((s) => s.maxRssKb);
  const bareWall = wall('bare');
  const bareRss = rss('bare');
  const rows: (string | number)[][] = [];
  const phases: (string | number)[][] = [];
  const med = (xs: number[]) => (xs.length ? round(median(xs)) : NaN);
  const goals: Goal[] = [];
  const perFunction: Record<string, unknown> = {};
  // CPU time the process spent from the runner's start (node's own start-up before it is the same
  // for every variant) to the reply: require + invoke.
  const cpu = (v: string) => markSpan(samples[v]!, 'cpuStart', 'cpuReplied');
  const cpuMed = (v: string) => (cpu(v).length ? median(cpu(v)) : NaN);
  const cpuRows: (string | number)[][] = [];
  /** A row of the main table: variant `v` (with its SDK pair `sdk`, when there is one). */
  const wallRow = (label: string, v: string, sdk?: string, bundleKb?: number): (string | number)[] => [
    label,
    round(median(wall(v))),
    round(overhead(wall(v), bareWall)),
    sdk ? round(median(wall(sdk))) : '—',
    sdk ? round(overhead(wall(sdk), bareWall)) : '—',
    round(mb(median(rss(v))), 1),
    round(mb(overhead(rss(v), bareRss)), 1),
    sdk ? round(overheadRatio(wall(v), wall(sdk), bareWall), 3) : '—',
    bundleKb === undefined ? '—' : round(bundleKb, 1),
  ];
  /** A row of the phases table: runner start, require, invoke (and the SDK pair's require, invoke, peak memory). */
  const phaseRow = (label: string, v: string, sdk?: string): (string | number)[] => [
    label,
    med(markSpan(samples[v]!, undefined, 'start')),
    med(markSpan(samples[v]!, 'start', 'loaded')),
    med(markSpan(samples[v]!, 'loaded', 'replied')),
    sdk ? med(markSpan(samples[sdk]!, 'start', 'loaded')) : '—',
    sdk ? med(markSpan(samples[sdk]!, 'loaded', 'replied')) : '—',
    sdk ? round(mb(median(rss(sdk))), 1) : '—',
  ];
  const floorCpu = cpuMed('floor');
  cpuRows.push(['ref: floor handler', round(floorCpu), '—', '—', '—', '—']);
  if (samples['nocache']) cpuRows.push([`ref: ${dist.built[0]!.name} without code cache`, round(cpuMed('nocache')), round(cpuMed('nocache') - floorCpu), '—', '—', '—']);
  const floorOverhead = overhead(wall('floor'), bareWall);
  rows.push(['bare (node -e 0)', round(median(bareWall)), '—', '—', '—', round(mb(median(bareRss)), 1), '—', '—', '—']);
  if (samples['runner']) {
    rows.push(wallRow('ref: the runner alone (answers at once)', 'runner'));
    phases.push(phaseRow('ref: the runner alone (answers at once)', 'runner'));
  }
  if (samples['roots']) rows.push(wallRow('ref: TLS root store (createSecureContext)', 'roots'));
  rows.push(wallRow('ref: floor handler', 'floor', undefined, kb(bytes.floor)));
  phases.push(phaseRow('ref: floor handler', 'floor'));
  // The floor as deployed: the same call over https (node:https), TLS roots from the directory.
  const hasDeployedFloor = samples['floor-deployed'] !== undefined;
  const deployedFloorCpu = hasDeployedFloor ? cpuMed('floor-deployed') : NaN;
  const deployedFloorOverhead = hasDeployedFloor ? overhead(wall('floor-deployed'), bareWall) : NaN;
  if (hasDeployedFloor) {
    const label = 'ref: floor handler as deployed (https)';
    rows.push(wallRow(label, 'floor-deployed'));
    phases.push(phaseRow(label, 'floor-deployed'));
    cpuRows.push([label, round(deployedFloorCpu), '—', '—', '—', '—']);
  }
  if (samples['nocache']) {
    const label = `ref: ${dist.built[0]!.name} without code cache`;
    rows.push(wallRow(label, 'nocache'));
    phases.push(phaseRow(label, 'nocache'));
  }
  for (const f of dist.built) {
    const ours = `ours:${f.name}`;
    const sdk = `sdk:${f.name}`;
    const r = overheadRatio(wall(ours), wall(sdk), bareWall);
    const extra = mb(overhead(rss(ours), bareRss));
    rows.push(wallRow(f.name, ours, sdk, kb(f.bytes)));
    phases.push(phaseRow(f.name, ours, sdk));
    const oursOvh = overhead(wall(ours), bareWall);
    const sdkOvh = overhead(wall(sdk), bareWall);
    const why =
      r > GOAL_RATIO
        ? `ours ${oursOvh.toFixed(1)} ms over bare, sdk ${sdkOvh.toFixed(1)} ms: the goal allows ${(GOAL_RATIO * sdkOvh).toFixed(1)} ms; the floor handler (HMAC + one node:http call, nothing else) costs ${floorOverhead.toFixed(1)} ms, ours ${Math.abs(oursOvh - floorOverhead).toFixed(1)} ms ${oursOvh >= floorOverhead ? 'more' : 'less'}, the sdk ${(sdkOvh - floorOverhead).toFixed(1)} ms more. Wall time; the CPU ratio below leaves out what the process waits for.`
        : undefined;
    goals.push(goal(`${f.name}: overhead ratio ours/sdk`, round(r, 3), GOAL_RATIO, 'x', why));
    goals.push(goal(`${f.name}: overhead − floor's`, round(oursOvh - floorOverhead, 1), GOAL_OVER_FLOOR_MS, 'ms'));
    goals.push(goal(`${f.name}: peak memory − bare`, round(extra, 1), GOAL_EXTRA_MEMORY_MB, 'MB'));
    const oursCpu = cpuMed(ours);
    const sdkCpu = cpuMed(sdk);
    cpuRows.push([f.name, round(oursCpu), round(oursCpu - floorCpu), round(sdkCpu), round(oursCpu / sdkCpu, 3), round(sdkCpu - floorCpu)]);
    goals.push(goal(`${f.name}: CPU ratio ours/sdk`, round(oursCpu / sdkCpu, 3), GOAL_RATIO, 'x'));
    goals.push(goal(`${f.name}: CPU − floor's`, round(oursCpu - floorCpu, 1), GOAL_OVER_FLOOR_MS, 'ms'));
    const onRedis = `redis:${f.name}`;
    let redisCpu: number | undefined;
    if (samples[onRedis]) {
      redisCpu = cpuMed(onRedis);
      rows.push(wallRow(`${f.name} on redis`, onRedis));
      phases.push(phaseRow(`${f.name} on redis`, onRedis));
      cpuRows.push([`${f.name} on redis`, round(redisCpu), round(redisCpu - floorCpu), '—', '—', '—']);
      // Paired by round (the two ran moments apart), which cancels much of a loaded machine's drift.
      const storeExtra = median(pairedDifferences(cpu(onRedis), cpu(ours)));
      goals.push(goal(`${f.name}: CPU on redis − without a store (paired by round)`, round(storeExtra, 1), GOAL_STORE_EXTRA_MS, 'ms'));
    }
    const deployed = `deployed:${f.name}`;
    const sdkHttps = `sdk-https:${f.name}`;
    let asDeployed: Record<string, number> | undefined;
    if (samples[deployed] && samples[sdkHttps]) {
      const rd = overheadRatio(wall(deployed), wall(sdkHttps), bareWall);
      const dCpu = cpuMed(deployed);
      const sCpu = cpuMed(sdkHttps);
      rows.push(wallRow(`${f.name} as deployed (https, redis)`, deployed, sdkHttps));
      phases.push(phaseRow(`${f.name} as deployed`, deployed, sdkHttps));
      // "− floor" here is the floor as deployed: over the same https, with the same roots
      cpuRows.push([`${f.name} as deployed (https, redis)`, round(dCpu), round(dCpu - deployedFloorCpu), round(sCpu), round(dCpu / sCpu, 3), round(sCpu - deployedFloorCpu)]);
      goals.push(goal(`${f.name} as deployed (https, redis): overhead ratio ours/sdk over https`, round(rd, 3), GOAL_RATIO, 'x'));
      goals.push(goal(`${f.name} as deployed (https, redis): CPU ratio ours/sdk over https`, round(dCpu / sCpu, 3), GOAL_RATIO, 'x'));
      if (hasDeployedFloor) {
        goals.push(goal(`${f.name} as deployed (https, redis): overhead − the floor's as deployed`, round(overhead(wall(deployed), bareWall) - deployedFloorOverhead, 1), GOAL_OVER_FLOOR_MS, 'ms'));
        goals.push(goal(`${f.name} as deployed (https, redis): CPU − the floor's as deployed`, round(dCpu - deployedFloorCpu, 1), GOAL_OVER_FLOOR_MS, 'ms'));
      }
      goals.push(goal(`${f.name} as deployed (https, redis): peak memory − bare`, round(mb(overhead(rss(deployed), bareRss)), 1), GOAL_EXTRA_MEMORY_MB, 'MB'));
      asDeployed = { overheadRatio: round(rd, 4), cpuRatio: round(dCpu / sCpu, 4), oursCpuMs: round(dCpu), sdkCpuMs: round(sCpu), oursOverheadMs: round(overhead(wall(deployed), bareWall)), sdkOverheadMs: round(overhead(wall(sdkHttps), bareWall)) };
    }
    const bundled = `deployed-bundled:${f.name}`;
    const sdkBundled = `sdk-https-bundled:${f.name}`;
    if (samples[bundled] && samples[sdkBundled]) {
      const label = `ref: ${f.name} as deployed, Node's bundled roots`;
      rows.push(wallRow(label, bundled, sdkBundled));
      cpuRows.push([label, round(cpuMed(bundled)), round(cpuMed(bundled) - floorCpu), round(cpuMed(sdkBundled)), round(cpuMed(bundled) / cpuMed(sdkBundled), 3), round(cpuMed(sdkBundled) - floorCpu)]);
      if (asDeployed) {
        asDeployed.bundledRootsOverheadMs = round(overhead(wall(bundled), bareWall));
        asDeployed.sdkBundledRootsOverheadMs = round(overhead(wall(sdkBundled), bareWall));
      }
    }
    perFunction[f.name] = {
      ...(asDeployed ? { asDeployed } : {}),
      bundleBytes: f.bytes,
      overheadRatio: round(r, 4),
      extraMemoryMb: round(extra, 2),
      ours: { wallMs: roundSummary(summarize(wall(ours))), maxRssKb: roundSummary(summarize(rss(ours))), overheadMs: round(overhead(wall(ours), bareWall)) },
      sdk: { wallMs: roundSummary(summarize(wall(sdk))), maxRssKb: roundSummary(summarize(rss(sdk))), overheadMs: round(overhead(wall(sdk), bareWall)) },
      cpuMs: { ours: round(oursCpu), sdk: round(sdkCpu), floor: round(floorCpu), ...(redisCpu === undefined ? {} : { onRedis: round(redisCpu) }) },
      insideMs: {
        oursRequire: med(markSpan(samples[ours]!, 'start', 'loaded')),
        oursInvoke: med(markSpan(samples[ours]!, 'loaded', 'replied')),
        sdkRequire: med(markSpan(samples[sdk]!, 'start', 'loaded')),
        sdkInvoke: med(markSpan(samples[sdk]!, 'loaded', 'replied')),
      },
    };
  }
  const sizes = allBuilt.map((f) => [f.name, round(kb(f.bytes), 1)] as (string | number)[]);
  for (const f of allBuilt) goals.push(goal(`${f.name}: eager bundle`, round(kb(f.bytes), 1), GOAL_BUNDLE_KB, 'KB'));
  const notes = [
    `${rounds} alternating rounds (+1 warm-up), order shuffled each round (seeded); each invocation is a fresh process with a freshly signed FC 3.0 event; the sandbox runs in the benchmark's process on loopback.`,
    'ref "the runner alone": bench/baselines/answer-handler.cjs, a handler that answers at once, run by the same runner (bench/lib/fn-runner.cjs): what the harness costs over `node -e 0` and every other row pays too.',
    `sdk baseline: bench/baselines/sdk-handler.ts (parse event, no checks, openapi-client callApi), ${kb(bytes.sdk).toFixed(1)} KB of its own, @alicloud/* required from node_modules.`,
    'as deployed: CAMS_ENDPOINT=https:// (TLS ended in the bench process in front of the sandbox, with a certificate made with openssl) and STORE_URL=redis://, TLS roots as serverless.yml sets them up (NODE_OPTIONS=--use-openssl-ca, SSL_CERT_DIR: Node\'s bundled roots and the bench\'s CA as a hashed directory), against the SDK over the same https with the same roots (it has no store: its first request stores no nonce and takes no budget slot).',
    'ref "as deployed, Node\'s bundled roots": the same without the directory, the CA trusted through NODE_EXTRA_CA_CERTS, which makes Node 20 build its root store from all its bundled roots at start-up, before the runner (so outside the CPU columns, which start at the runner); with a public CA the same work comes with the first handshake. The "ref: TLS root store" row is that work alone.',
    'on redis: the same bundle with STORE_URL=redis:// (a redis-server on loopback, started by the bench): its first request also opens the connection, stores the caller\'s nonce and takes a CAMS budget slot (EVALSHA).',
    'ref "without code cache": the same bundle and loader without main.js.cache, so V8 compiles main.js as Node 20 always does; the difference to its "ours" row is what main.js.cache saves.',
    `floor: bench/baselines/floor-handler.ts — parse the event, HMAC-SHA256 + one node:http POST, JSON.parse; goal: ours ≤ floor + ${GOAL_OVER_FLOOR_MS} ms. As deployed, the same over node:https with the same TLS roots and no store (the floor keeps no nonce and takes no budget slot), against ours as deployed; same goal.`,
    'eager bundle: dist/<fn>/index.js (loader) + main.js; lazy/<pkg>.js files (@alicloud/fc2) load on first use only; main.js.cache (V8 code cache) is not counted.',
    `peak memory from ${memorySource === 'gnu-time' ? '/usr/bin/time -v "Maximum resident set size"' : 'process.resourceUsage().maxRSS'}; MB = 1024 KB, KB = 1024 bytes.`,
  ];
  if (dist.rebuilt) notes.push('dist/ was (re)built by this run (npm run build -- --allow-missing).');
  if (dist.missing.length > 0) notes.push(`skipped, not built: ${dist.missing.join(', ')}`);
  return {
    name: functionColdStart.name,
    description: functionColdStart.description,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    tables: [
      {
        columns: ['function', 'ours med ms', 'ours ovh', 'sdk med ms', 'sdk ovh', 'peak MB', '+MB bare', 'ratio', 'bundle KB'],
        rows,
      },
      { title: 'eager bundle of every function (KB)', columns: ['function', 'KB'], rows: sizes },
      {
        title: 'inside the process (medians, ms, as the runner reports them): runner start (since process start), require(bundle), handler until reply',
        columns: ['function', 'runner at', 'ours require', 'ours invoke', 'sdk require', 'sdk invoke', 'sdk peak MB'],
        rows: phases,
      },
      {
        title: 'CPU time (user + system) from the runner start to the reply, medians, ms; ratio = ours / sdk',
        columns: ['function', 'ours CPU', '− floor', 'sdk CPU', 'ratio', 'sdk − floor'],
        rows: cpuRows,
      },
    ],
    goals,
    notes,
    data: {
      rounds,
      bare: { wallMs: roundSummary(summarize(bareWall)), maxRssKb: roundSummary(summarize(bareRss)) },
      sdkBundleBytes: bytes.sdk,
      floor: { bundleBytes: bytes.floor, wallMs: roundSummary(summarize(wall('floor'))), maxRssKb: roundSummary(summarize(rss('floor'))), overheadMs: round(floorOverhead) },
      skipped: dist.missing,
      eagerBundleBytes: Object.fromEntries(allBuilt.map((f) => [f.name, f.bytes])),
      functions: perFunction,
    },
  };
}
