/**
 * `serverless package`, offline: serverless@3 + serverless-aliyun-function-compute + the
 * project-local plugin (serverless/cams-fc-plugin.js). Run `npm run build` first (`npm run
 * package` does both).
 *
 *   tsx scripts/package.ts [--stage dev] [--dir <service dir>]
 *
 * Output in <service dir>/.serverless/: one <function>.zip per function and the
 * configuration-template-{create,update}.json the aliyun plugin's deploy step reads (FC 2.0,
 * legacy); in <service dir>/dist/: s.yaml and fc3/ for Serverless Devs on FC 3.0. Each function's
 * variables are checked first, as the functions parse them (shared/services/config-check.ts); then
 * the plugin checks what FC would refuse (serverless/deploy-checks.js) and validates s.yaml
 * (serverless/fc3-schema.js).
 * Credentials: ALIYUN_CREDENTIALS_FILE, else the committed dummy ci/aliyun-dummy-credentials.ini
 * (enough to package; deploying needs real ones).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { environmentProblems } from '../local/host/host-config.ts';
import { loadServerlessConfig } from '../local/host/serverless-config.ts';
import { removeEarlierPackaging, REMOVED_NOTE } from '../serverless/fc3.js';
import { STAGE_PATTERN } from '../serverless/schema.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Keeps serverless@3 and the aliyun plugin off the network (telemetry, notifications, analytics). */
export const OFFLINE_ENV: Readonly<Record<string, string>> = {
  CI: 'true',
  SLS_TELEMETRY_DISABLED: '1',
  SLS_NOTIFICATIONS_MODE: 'off',
  SLS_DEPRECATION_DISABLE: '*',
};

export interface PackageOptions {
  /** Service directory (serverless.yml, serverless/, dist/). Default: this repository. */
  dir?: string;
  stage?: string;
  /** 'inherit' streams serverless' output; 'pipe' captures it into the result. */
  stdio?: 'inherit' | 'pipe';
  env?: NodeJS.ProcessEnv;
}

export interface PackageResult {
  exitCode: number;
  output: string;
  millis: number;
  serverlessDir: string;
  artifacts: { file: string; bytes: number }[];
  templates: string[];
  /** The functions' variables were refused before serverless ran (the output says which). */
  refused?: boolean;
}

function serverlessBin(): string {
  const bin = join(REPO_ROOT, 'node_modules', '.bin', 'serverless');
  if (!existsSync(bin)) throw new Error(`${bin} not found: run npm ci`);
  return bin;
}

export async function packageService(opts: PackageOptions = {}): Promise<PackageResult> {
  const dir = resolve(opts.dir ?? REPO_ROOT);
  const stage = opts.stage ?? 'dev';
  if (!new RegExp(STAGE_PATTERN).test(stage)) throw new Error(`bad --stage "${stage}" (letters, digits, dashes)`);
  const started = performance.now();
  const env = { ...process.env, ...opts.env };
  // What each function will parse (MONITOR_QPS, CAMS_QPS, ...), checked as the local host checks it
  // at start-up: a bad value stops packaging, naming the variable and the functions, and what an
  // earlier packaging left is removed so it cannot be deployed in this one's place.
  const problems = environmentProblems(loadServerlessConfig(join(dir, 'serverless.yml'), { env, options: { stage } }).functions);
  if (problems.length > 0) {
    removeEarlierPackaging(dir);
    const output = `package: serverless.yml, as resolved from the environment:\n  ${problems.join('\n  ')}\n${REMOVED_NOTE}\n`;
    if (opts.stdio !== 'pipe') process.stderr.write(output);
    return { exitCode: 1, output, millis: Math.round(performance.now() - started), serverlessDir: join(dir, '.serverless'), artifacts: [], templates: [], refused: true };
  }
  // Captured either way, and passed on as it comes unless piped: what serverless said decides what
  // is left to say when it fails.
  const inherit = opts.stdio !== 'pipe';
  const child = spawn(serverlessBin(), ['package', '--stage', stage], {
    cwd: dir,
    env: { ...env, ...OFFLINE_ENV },
    stdio: [inherit ? 'inherit' : 'ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    if (inherit) process.stdout.write(d);
  });
  child.stderr.on('data', (d: Buffer) => {
    output += d.toString();
    if (inherit) process.stderr.write(d);
  });
  const exitCode = await new Promise<number>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
  const serverlessDir = join(dir, '.serverless');
  if (exitCode !== 0) {
    // Failed in serverless (a missing bundle, a credentials file, a schema error): what an earlier
    // packaging left, another stage's say, must not be deployed in this one's place either. The
    // plugin's own refusal has removed it and said so already: the note is not repeated.
    removeEarlierPackaging(dir);
    const said = `package: serverless package failed (exit ${exitCode})\n${output.includes(REMOVED_NOTE) ? '' : `${REMOVED_NOTE}\n`}`;
    output += said;
    if (inherit) process.stderr.write(said);
  }
  const files = exitCode === 0 && existsSync(serverlessDir) ? readdirSync(serverlessDir).sort() : [];
  return {
    exitCode,
    output,
    millis: Math.round(performance.now() - started),
    serverlessDir,
    artifacts: files.filter((f) => f.endsWith('.zip')).map((f) => ({ file: join(serverlessDir, f), bytes: statSync(join(serverlessDir, f)).size })),
    templates: files.filter((f) => f.startsWith('configuration-template-')).map((f) => join(serverlessDir, f)),
  };
}

export function parseArgs(argv: string[]): PackageOptions {
  const out: PackageOptions = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--stage' || arg === '-s') out.stage = value();
    else if (arg?.startsWith('--stage=')) out.stage = arg.slice('--stage='.length);
    else if (arg === '--dir') out.dir = value();
    else throw new Error(`unknown argument ${arg} (use --stage <stage>, --dir <service dir>)`);
  }
  // A typo is a usage error (one line, exit 2), not packageService's throw with a stack trace.
  if (out.stage !== undefined && !new RegExp(STAGE_PATTERN).test(out.stage)) throw new Error(`bad --stage "${out.stage}" (letters, digits, dashes)`);
  return out;
}

async function main(): Promise<void> {
  let opts: PackageOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 2;
    return;
  }
  const result = await packageService({ ...opts, stdio: 'inherit' });
  if (result.exitCode !== 0) {
    process.exitCode = result.exitCode;
    return;
  }
  const show = (f: string) => {
    const rel = relative(process.cwd(), f);
    return rel.startsWith('..') ? f : rel;
  };
  console.log(`package: stage ${opts.stage ?? 'dev'}, ${result.artifacts.length} function artifact(s) in ${result.millis} ms:`);
  for (const a of result.artifacts) console.log(`  ${show(a.file).padEnd(40)} ${(a.bytes / 1024).toFixed(1).padStart(8)} KB`);
  for (const t of result.templates) console.log(`  ${show(t)}`);
  const sYaml = join(opts.dir ?? REPO_ROOT, 'dist', 's.yaml');
  if (existsSync(sYaml)) console.log(`  ${show(sYaml)} (FC 3.0: Serverless Devs fc3; roles and event rules in ${show(join(dirname(sYaml), 'fc3'))}/)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
