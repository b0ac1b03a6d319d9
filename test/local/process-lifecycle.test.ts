import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { installProcessLifecycle, SIGNAL_ECHO_MS, type LifecycleProcess } from '../../local/process-lifecycle.ts';

/** A process whose streams can be broken on demand; exit is recorded, never real. */
function fakeProcess() {
  const events = new EventEmitter();
  const written = { stdout: [] as string[], stderr: [] as string[] };
  const broken = { stdout: false, stderr: false };
  const stream = (which: 'stdout' | 'stderr') =>
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (broken[which]) return cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' }));
        written[which].push(chunk.toString('utf8'));
        cb();
      },
    });
  const exits: number[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const clock = { ms: 1_000_000 };
  const proc: LifecycleProcess = {
    stdout: stream('stdout'),
    stderr: stream('stderr'),
    on: (event: string, listener: (...args: never[]) => void) => events.on(event, listener as (...args: unknown[]) => void),
    exit: (code: number) => void exits.push(code),
  };
  const lifecycle = installProcessLifecycle({ name: 'test main', proc, hardStopMs: 4_000, setTimer: (fn, ms) => timers.push({ fn, ms }), now: () => clock.ms });
  return { lifecycle, events, written, broken, exits, timers, clock };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('installProcessLifecycle', () => {
  it('redacts URL credentials in every line', () => {
    const { lifecycle, written } = fakeProcess();
    lifecycle.out('store: redis://:hunter2pass@10.0.0.1:6379/0');
    lifecycle.err('sink https://bot:tok3n@hooks.example.com/x failed');
    expect(written.stdout.join('')).toBe('store: redis://***@10.0.0.1:6379/0\n');
    expect(written.stderr.join('')).toBe('sink https://***@hooks.example.com/x failed\n');
  });

  it('stops once and exits 0 when stdout goes away (EPIPE), never writing to it again', async () => {
    const { lifecycle, broken, written, exits } = fakeProcess();
    let stops = 0;
    lifecycle.onStop(async () => void stops++);
    broken.stdout = true;
    lifecycle.out('a line into the closed pipe');
    await tick();
    for (let i = 0; i < 100; i++) lifecycle.out('more');
    await tick();
    expect(stops).toBe(1);
    expect(exits).toEqual([0]);
    expect(written.stderr.join('')).toContain('test main: stdout closed (EPIPE), stopping');
  });

  it('an uncaught exception with stderr closed does not loop: one failed write, then a clean stop', async () => {
    const { lifecycle, events, broken, exits } = fakeProcess();
    let stops = 0;
    lifecycle.onStop(async () => void stops++);
    broken.stderr = true;
    broken.stdout = true;
    events.emit('uncaughtException', new Error('boom'));
    await tick();
    // What used to spin: each report of an error raising another.
    for (let i = 0; i < 100; i++) events.emit('uncaughtException', new Error('again'));
    await tick();
    expect(stops).toBe(1);
    expect(exits).toEqual([0]);
  });

  it('reports uncaught exceptions and unhandled rejections without stopping', async () => {
    const { lifecycle, events, written, exits } = fakeProcess();
    lifecycle.onStop(async () => {});
    events.emit('uncaughtException', new Error('stray throw'));
    events.emit('unhandledRejection', new Error('stray rejection'));
    await tick();
    expect(written.stderr.join('')).toMatch(/uncaught exception: Error: stray throw[\s\S]*unhandled rejection: Error: stray rejection/);
    expect(exits).toEqual([]);
  });

  it('SIGTERM runs the stop and exits 0; a stop that hangs is cut at the hard cap with exit 1', async () => {
    const done = fakeProcess();
    done.lifecycle.onStop(async () => {});
    done.events.emit('SIGTERM');
    await tick();
    expect(done.exits).toEqual([0]);
    expect(done.written.stdout.join('')).toContain('test main: SIGTERM, stopping');

    const hung = fakeProcess();
    hung.lifecycle.onStop(() => new Promise(() => {}));
    hung.events.emit('SIGINT');
    await tick();
    expect(hung.exits).toEqual([]);
    expect(hung.timers.map((t) => t.ms)).toEqual([4_000]);
    hung.timers[0]!.fn();
    expect(hung.exits).toEqual([1]);
    expect(hung.written.stderr.join('')).toContain('not stopped after 4000 ms');
  });

  it('a second signal exits at once; a signal before start-up finished exits at once', async () => {
    const twice = fakeProcess();
    twice.lifecycle.onStop(() => new Promise(() => {}));
    twice.events.emit('SIGINT');
    twice.clock.ms += SIGNAL_ECHO_MS;
    twice.events.emit('SIGINT');
    expect(twice.exits).toEqual([1]);

    const early = fakeProcess();
    early.events.emit('SIGTERM');
    expect(early.exits).toEqual([0]);
  });

  it('one Ctrl-C delivered several times (the terminal, npm forwarding it, tsx relaying it) is one signal: the stop runs and exits 0', async () => {
    const { lifecycle, events, exits, clock } = fakeProcess();
    let stops = 0;
    lifecycle.onStop(async () => void stops++);
    events.emit('SIGINT');
    clock.ms += 1;
    events.emit('SIGINT');
    clock.ms += 30;
    events.emit('SIGINT');
    await tick();
    expect(stops).toBe(1);
    expect(exits).toEqual([0]);
  });

  it('a stop that fails exits 1 and says why', async () => {
    const { lifecycle, events, exits, written } = fakeProcess();
    lifecycle.onStop(async () => {
      throw new Error('sandbox would not close');
    });
    events.emit('SIGTERM');
    await tick();
    expect(exits).toEqual([1]);
    expect(written.stderr.join('')).toContain('stopping failed: sandbox would not close');
  });
});
