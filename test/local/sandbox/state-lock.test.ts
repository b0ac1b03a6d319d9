import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as nodeFs from 'node:fs';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { StateLock, type LockFs } from '../../../local/sandbox/state-lock.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cams-sandbox-lock-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('sandbox.lock between starters that run at the same time', () => {
  // Each starter plays its own process (its own pid, a live one); all of them share one state dir.
  const sleepers: ChildProcess[] = [];
  let pids: number[];
  let deadPid: number;
  beforeAll(() => {
    for (let i = 0; i < 3; i++) sleepers.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
    pids = sleepers.map((c) => c.pid!);
    deadPid = spawnSync('true').pid!;
  });
  afterAll(() => {
    for (const c of sleepers) c.kill('SIGKILL');
  });

  /**
   * The real fs, with a pause before each call in which `pause(step)` may run another starter. A
   * write is its open, then its write: writeFileSync is not atomic, and between the two another
   * process sees the file empty.
   */
  function pausing(pause: (step: number) => void): LockFs {
    let step = 0;
    const at = () => pause(step++);
    const fs: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(nodeFs)) {
      if (typeof fn === 'function' && name.endsWith('Sync')) fs[name] = (...args: unknown[]) => (at(), (fn as (...a: unknown[]) => unknown)(...args));
    }
    fs['writeFileSync'] = (path: string, data: string, opts?: { flag?: string }) => {
      at();
      const fd = nodeFs.openSync(path, opts?.flag ?? 'w');
      try {
        at();
        nodeFs.writeSync(fd, data);
      } finally {
        nodeFs.closeSync(fd);
      }
    };
    return fs as unknown as LockFs;
  }

  /**
   * Starter i runs lock(); before its pauses[i]-th file operation, starter i+1 runs all of its own
   * (itself paused at pauses[i+1]...). Each outcome is 'held' or the error; `fired` says whether
   * every pause came (a pause past a starter's last operation is a run one after the other).
   */
  function race(stateDir: string, pauses: number[]): { outcomes: string[]; files: StateLock[]; fired: boolean } {
    const outcomes: string[] = [];
    const files: StateLock[] = [];
    let fired = 0;
    const run = (i: number): void => {
      const file = new StateLock(stateDir, join(stateDir, 'sandbox.json'), {
        pid: pids[i]!,
        fs: pausing((step) => {
          if (i < pauses.length && step === pauses[i]) {
            fired++;
            run(i + 1);
          }
        }),
      });
      files[i] = file;
      try {
        file.lock();
        outcomes[i] = 'held';
      } catch (e) {
        outcomes[i] = (e as Error).message;
      }
    };
    run(0);
    return { outcomes, files, fired: fired === pauses.length };
  }

  // what a starter finds: no lock, a killed holder's, one a killed starter left empty (made, pid not yet written)
  const starts: Array<[string, (lock: string) => void]> = [
    ['no lock', () => {}],
    ['a killed holder\'s lock', (lock) => writeFileSync(lock, String(deadPid))],
    ['an empty lock a killed starter left', (lock) => writeFileSync(lock, '')],
  ];

  function check(stateDir: string, r: ReturnType<typeof race>, what: string): void {
    const held = r.outcomes.flatMap((o, i) => (o === 'held' ? [i] : []));
    try {
      expect(held, `${what}: ${JSON.stringify(r.outcomes)}`).toHaveLength(1);
      const holder = pids[held[0]!]!;
      expect(readFileSync(join(stateDir, 'sandbox.lock'), 'utf8'), what).toBe(String(holder));
      for (const o of r.outcomes) if (o !== 'held') expect(o, what).toMatch(new RegExp(`is in use by process (${pids.join('|')}) \\(npm start`));
      // nothing else is left behind
      expect(readdirSync(stateDir), what).toEqual(['sandbox.lock']);
    } finally {
      for (const f of r.files) f.unlock();
    }
  }

  it('a takeover a starter killed mid-way left (and the takeover of that) is taken over in turn; one a running starter holds refuses, naming that starter', () => {
    const lock = join(dir, 'sandbox.lock');
    writeFileSync(lock, String(deadPid));
    writeFileSync(`${lock}.takeover`, String(deadPid));
    writeFileSync(`${lock}.takeover.takeover`, String(deadPid));
    const file = new StateLock(dir, join(dir, 'sandbox.json'), { pid: pids[0]! });
    file.lock();
    expect(readdirSync(dir)).toEqual(['sandbox.lock']);
    expect(readFileSync(lock, 'utf8')).toBe(String(pids[0]));
    file.unlock();

    writeFileSync(lock, String(deadPid));
    writeFileSync(`${lock}.takeover`, String(pids[1]));
    expect(() => new StateLock(dir, join(dir, 'sandbox.json'), { pid: pids[0]! }).lock()).toThrow(`is in use by process ${pids[1]} (npm start`);
    // left to that starter, which is taking it over
    expect(readdirSync(dir).sort()).toEqual(['sandbox.lock', 'sandbox.lock.takeover']);
    expect(readFileSync(lock, 'utf8')).toBe(String(deadPid));
  });

  for (const [what, place] of starts) {
    it(`${what}: two starters, one paused before each of its file operations in turn while the other runs: exactly one holds the lock, the other is refused naming it`, () => {
      for (let k = 0; ; k++) {
        const stateDir = join(dir, `two-${k}`);
        mkdirSync(stateDir);
        place(join(stateDir, 'sandbox.lock'));
        const r = race(stateDir, [k]);
        check(stateDir, r, `the second at step ${k}`);
        if (r.outcomes[1] !== 'held') expect(r.outcomes[1]).toContain(`is in use by process ${pids[0]} `);
        if (!r.fired) break;
      }
    });

    it(`${what}: three starters, paused within each other at every pair of steps: exactly one holds the lock`, () => {
      for (let k = 0; ; k++) {
        let fired = false;
        for (let j = 0; ; j++) {
          const stateDir = join(dir, `three-${k}-${j}`);
          mkdirSync(stateDir);
          place(join(stateDir, 'sandbox.lock'));
          const r = race(stateDir, [k, j]);
          check(stateDir, r, `the second at step ${k}, the third at its step ${j}`);
          if (!r.fired) break;
          fired = true;
        }
        if (!fired) break;
      }
    });
  }

  it('a sandbox closing gives up only its own lock: one another starter took after the directory was removed (rm -rf .data while it ran) stays', () => {
    const stateDir = join(dir, 'removed');
    const first = new StateLock(stateDir, join(stateDir, 'sandbox.json'), { pid: pids[0]! });
    first.lock();
    rmSync(stateDir, { recursive: true, force: true });
    const second = new StateLock(stateDir, join(stateDir, 'sandbox.json'), { pid: pids[1]! });
    second.lock();
    first.unlock();
    expect(readFileSync(join(stateDir, 'sandbox.lock'), 'utf8')).toBe(String(pids[1]));
    second.unlock();
    expect(readdirSync(stateDir)).toEqual([]);
  });
});
