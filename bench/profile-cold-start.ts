/**
 * Where a function's cold start goes: `tsx bench/profile-cold-start.ts [--runs N] [--cpu-prof] [--store URL] [--https] [--rtt MS] <bundle>...`
 *
 * --store URL runs each function with that STORE_URL (a redis-server of yours, say), as it is deployed.
 * Each bundle gets a namespace of its own there (`?namespace=profile-<n>:`), so two copies of one
 * function do not draw from one CAMS budget: the second would wait up to 200 ms for the account's
 * 5 QPS.
 * --rtt MS puts a loopback proxy in front of CAMS and of the store that holds every chunk MS/2 each
 * way (bench/lib/delay-proxy.ts): a network round trip, which loopback hides from every TLS flight
 * and every redis reply waited for.
 * --https puts TLS in front of the sandbox (a certificate made with openssl) and runs each function
 * with CAMS over https and its TLS roots as serverless.yml sets them up: --use-openssl-ca and a
 * hashed directory of Node's bundled roots and that certificate (scripts/root-store.ts).
 *
 * Each <bundle> is a dist/<fn>/index.js (or in a copy of dist/ elsewhere); the function is
 * read from the folder name. For each round, every bundle runs once in a fresh `node` (alternating,
 * as the bench does) with a freshly signed FC 3.0 event against an in-process sandbox, and the
 * runner's own marks are kept: require(bundle) and handler-until-reply, medians, in wall and in CPU
 * time. CPU time taken inside the process is far less noisy than wall time on a shared machine;
 * compare bundles side by side in one run, never across runs.
 *
 * --cpu-prof also writes a V8 CPU profile per process and prints self time per source file (through
 * main.js.map) summed over the runs, GC and node's own start-up shown apart.
 *
 * --instructions runs each process under valgrind's callgrind instead and prints the instructions it
 * executed (whole process, millions, the least over the runs): a count, not a time, so the same on a
 * loaded machine, which makes a change of half a millisecond visible. A primality test in node's own
 * start-up (detail::sprp) executes a random number of instructions (±5 M); it is left out.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { signRouteRequest } from '../local/client/route-request.ts';
import { fcContext, httpEvent } from '../test/support/events.ts';
import { rootStoreEnv, writeRootStore } from '../scripts/root-store.ts';
import { findOnPath } from '../test/shared/store/redis-server.ts';
import { startTlsFront, type TlsFront } from '../test/support/tls-front.ts';
import { HTTP_FUNCTIONS } from './function-cold-start.ts';
import { REPO_ROOT } from './lib/bundle.ts';
import { startDelayProxy, type DelayProxy } from './lib/delay-proxy.ts';
import { BENCH_CALLER_KEY, functionEnv, ROUTE_HOST, startBenchSandbox } from './lib/sandbox.ts';
import { timedNode, type ProcessSample } from './lib/spawn.ts';
import { median } from './lib/stats.ts';

const execFileAsync = promisify(execFile);

interface Args {
  runs: number;
  cpuProf: boolean;
  /** Self time per function (file:line name) rather than per file. */
  byFunction: boolean;
  /** Count instructions under callgrind instead of timing. */
  instructions: boolean;
  /** STORE_URL for the functions; none by default. */
  store: string | undefined;
  /** CAMS over https, TLS roots from a hashed directory. */
  https: boolean;
  /** Round trip added to CAMS and the store, ms. */
  rttMs: number;
  bundles: string[];
}

function parse(argv: string[]): Args {
  const out: Args = { runs: 10, cpuProf: false, byFunction: false, instructions: false, store: undefined, https: false, rttMs: 0, bundles: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i]!;
    if (a === '--runs') out.runs = Number(argv[++i]);
    else if (a === '--cpu-prof') out.cpuProf = true;
    else if (a === '--by-function') out.cpuProf = out.byFunction = true;
    else if (a === '--instructions') out.instructions = true;
    else if (a === '--store') out.store = argv[++i];
    else if (a === '--https') out.https = true;
    else if (a === '--rtt') out.rttMs = Number(argv[++i]);
    else out.bundles.push(resolve(a));
  }
  if (out.bundles.length === 0 || !Number.isInteger(out.runs) || out.runs < 1 || !(out.rttMs >= 0)) {
    throw new Error('usage: tsx bench/profile-cold-start.ts [--runs N] [--cpu-prof | --by-function | --instructions] [--store URL] [--https] [--rtt MS] dist/<fn>/index.js ...');
  }
  return out;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time (ms) per source file of one profile; bundle frames mapped through their source map. */
function selfTimeByFile(profile: Profile, maps: Map<string, SourceMap | null>, byFunction: boolean): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const node = byId.get(profile.samples[i]!)!;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const { url, lineNumber, columnNumber, functionName } = node.callFrame;
    let key: string;
    if (!url) key = `(${functionName || 'native'})`;
    else if (url.startsWith('node:')) key = 'node:*';
    else {
      const file = url.replace(/^file:\/\//, '');
      if (!maps.has(file)) maps.set(file, existsSync(`${file}.map`) ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))) : null);
      const map = maps.get(file);
      const entry = map?.findEntry(lineNumber, columnNumber) as { originalSource?: string; originalLine?: number; name?: string } | undefined;
      key = entry?.originalSource ? entry.originalSource.replace(/^.*node_modules\//, 'nm:').replace(/^(\.\.\/)+/, '') : basename(file);
      if (byFunction) key += `:${(entry?.originalLine ?? lineNumber) + 1} ${entry?.name ?? functionName}`;
    }
    out.set(key, (out.get(key) ?? 0) + ms);
  }
  return out;
}

/** Instructions one runner process executes under callgrind, without node's random primality test. */
async function instructions(runner: string, bundle: string, env: Record<string, string>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cams-fc-callgrind-'));
  const out = join(dir, 'callgrind.out');
  try {
    const run = await execFileAsync('valgrind', ['--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${out}`, process.execPath, runner, bundle], { env: { PATH: process.env['PATH'] ?? '', ...env }, cwd: REPO_ROOT, maxBuffer: 1 << 24 }).catch((e: { stderr?: string }) => {
      throw new Error(`${bundle} under callgrind failed (is valgrind installed?): ${(e.stderr ?? String(e)).slice(-600)}`);
    });
    const total = Number(/Collected : (\d+)/.exec(run.stderr)?.[1]);
    const { stdout } = await execFileAsync('callgrind_annotate', ['--inclusive=yes', out], { maxBuffer: 1 << 28 });
    const sprp = /([\d,]+) \([^)]*\)\s+\S*detail::sprp/.exec(stdout)?.[1];
    return total - (sprp ? Number(sprp.replaceAll(',', '')) : 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const sb = await startBenchSandbox();
  let front: TlsFront | undefined;
  let https: Record<string, string> = {};
  const proxies: DelayProxy[] = [];
  /** The same server, through a proxy adding the round trip when --rtt is given. */
  const overNetwork = async (url: URL): Promise<URL> => {
    if (args.rttMs === 0) return url;
    const proxy = await startDelayProxy({ host: url.hostname, port: Number(url.port) }, args.rttMs / 2);
    proxies.push(proxy);
    const out = new URL(url);
    out.port = String(proxy.port);
    return out;
  };
  if (args.https) {
    const url = new URL(sb.sandbox.url);
    front = await startTlsFront(findOnPath('openssl'), { host: url.hostname, port: Number(url.port) });
    if (!front) throw new Error('--https needs openssl on PATH (it makes the certificate)');
    const roots = mkdtempSync(join(tmpdir(), 'cams-fc-roots-'));
    writeRootStore(roots, [...rootCertificates, readFileSync(front.caFile, 'utf8')]);
    https = { ...rootStoreEnv(roots) };
  }
  const camsEndpoint = (await overNetwork(new URL(front?.url ?? sb.sandbox.url))).href.replace(/\/$/, '');
  const store = args.store ? await overNetwork(new URL(args.store)) : undefined;
  const storeUrl = (i: number): Record<string, string> => {
    if (!store) return {};
    const u = new URL(store);
    u.searchParams.set('namespace', `profile-${i}:`);
    return { STORE_URL: u.href };
  };
  const runner = join(REPO_ROOT, 'bench/lib/fn-runner.cjs');
  const context = JSON.stringify(fcContext({ requestId: 'profile' }));
  const samples = new Map<string, ProcessSample[]>(args.bundles.map((b) => [b, []]));
  const counts = new Map<string, number[]>(args.bundles.map((b) => [b, []]));
  const profDirs = new Map<string, string>(args.bundles.map((b) => [b, mkdtempSync(join(tmpdir(), 'cams-fc-prof-'))]));
  // read once the report is printed, then gone: one .cpuprofile per run adds up over many runs
  process.once('exit', () => {
    for (const d of profDirs.values()) rmSync(d, { recursive: true, force: true });
  });
  try {
    for (let r = -1; r < args.runs; r += 1) {
      const order = [...args.bundles.slice((r + 1) % args.bundles.length), ...args.bundles.slice(0, (r + 1) % args.bundles.length)];
      for (const bundle of order) {
        const fn = basename(dirname(bundle));
        const req = HTTP_FUNCTIONS[fn];
        if (!req) throw new Error(`${bundle}: ${fn} is not an HTTP function (${Object.keys(HTTP_FUNCTIONS).join(', ')})`);
        const event = httpEvent(signRouteRequest(req(sb), ROUTE_HOST, BENCH_CALLER_KEY, { nonce: randomUUID() }), 'fc-http').toString('utf8');
        const env = { ...functionEnv(sb), CAMS_ENDPOINT: camsEndpoint, ...storeUrl(args.bundles.indexOf(bundle)), ...https, BENCH_EVENT: event, BENCH_CONTEXT: context };
        if (args.instructions) {
          if (r >= 0) counts.get(bundle)!.push(await instructions(runner, bundle, env));
          continue;
        }
        const prof = args.cpuProf && r >= 0 ? ['--cpu-prof', '--cpu-prof-dir', profDirs.get(bundle)!, '--cpu-prof-interval', '100'] : [];
        const s = await timedNode({ args: [...prof, runner, bundle], env, cwd: REPO_ROOT });
        if (r >= 0) samples.get(bundle)!.push(s);
      }
    }
  } finally {
    for (const p of proxies) await p.close();
    await front?.close();
    if (https.SSL_CERT_DIR) rmSync(https.SSL_CERT_DIR, { recursive: true, force: true });
    await sb.close();
  }
  if (args.instructions) {
    console.log(`${args.runs} rounds under callgrind; instructions executed by the whole process (millions, detail::sprp left out): least | each run`);
    for (const [bundle, xs] of counts) console.log(`${(Math.min(...xs) / 1e6).toFixed(1).padStart(7)} | ${xs.map((x) => (x / 1e6).toFixed(1)).join(' ')}  ${bundle.replace(`${REPO_ROOT}/`, '')}`);
    return;
  }
  const med = (xs: number[]) => median(xs).toFixed(2).padStart(7);
  const span = (ss: ProcessSample[], from: string, to: string) => ss.map((s) => s.marks[to]! - s.marks[from]!);
  console.log(`${args.runs} rounds${args.cpuProf ? ' (under --cpu-prof)' : ''}${args.rttMs ? `, ${args.rttMs} ms round trip to CAMS and the store` : ''}; medians, ms. wall: require | invoke | both; CPU: require | invoke | both; process wall`);
  for (const [bundle, ss] of samples) {
    const cols = [
      span(ss, 'start', 'loaded'),
      span(ss, 'loaded', 'replied'),
      span(ss, 'start', 'replied'),
      span(ss, 'cpuStart', 'cpuLoaded'),
      span(ss, 'cpuLoaded', 'cpuReplied'),
      span(ss, 'cpuStart', 'cpuReplied'),
      ss.map((s) => s.wallMs),
    ];
    console.log(`${cols.map(med).join(' ')}  ${bundle.replace(`${REPO_ROOT}/`, '')}`);
  }
  if (!args.cpuProf) return;
  for (const [bundle, dir] of profDirs) {
    const maps = new Map<string, SourceMap | null>();
    const total = new Map<string, number>();
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    for (const f of files) {
      for (const [k, ms] of selfTimeByFile(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Profile, maps, args.byFunction)) total.set(k, (total.get(k) ?? 0) + ms);
    }
    console.log(`\n${bundle.replace(`${REPO_ROOT}/`, '')}: self time per run (ms, mean over ${files.length} profiles)`);
    const rows = [...total].sort((a, b) => b[1] - a[1]);
    for (const [k, ms] of rows.slice(0, args.byFunction ? 60 : 30)) console.log(`${(ms / files.length).toFixed(2).padStart(7)}  ${k}`);
  }
}

await main();
