// `npm start` (node --import tsx local/host/main.ts, exactly what the script runs) as a child
// process with a file store of its own, and `npm run call` against it, as a new user runs them.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What the test runner's shell may have that would change the embedded defaults under test. */
const SHELL_OVERRIDES = ['API_KEYS', 'CAMS_ENDPOINT', 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN', 'CAMS_SANDBOX_KEYS', 'HOST', 'CAMS_FC_URL', 'STORE_URL'];

/** This process's environment without SHELL_OVERRIDES (unless given in `extra`), plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of SHELL_OVERRIDES) if (!(k in extra)) delete env[k];
  return env;
}

export interface NpmHost {
  url: string;
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** SIGTERM (SIGKILL 10 s later) unless it has exited; then its store folder is removed. */
  stop(): Promise<void>;
}

/** Starts `npm start` on free ports, timers off, and resolves once its banner (with its URL) is out. */
export async function startNpmHost(): Promise<NpmHost> {
  const storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-npm-start-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/host/main.ts'], {
    cwd: ROOT,
    env: childEnv({ PORT: '0', CAMS_SANDBOX_PORT: '0', HOST_TIMERS: 'off', STORE_URL: `file:${storeDir}`, LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(storeDir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the host did not start:\n${output}`)), 30_000);
      const check = () => {
        const m = /listening on (http:\/\/\S+)/.exec(output);
        if (m && output.includes('  try: ')) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on('data', check);
      void exited.then((code) => reject(new Error(`the host exited with ${code}:\n${output}`)));
    });
    return { url, child, output: () => output, exited, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** `npm run call -- <args>` against `url`: its exit code and what it wrote to each stream. */
export function npmCall(url: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'local/cli/call.ts', ...args], { cwd: ROOT, env: childEnv({ CAMS_FC_URL: url }) });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
