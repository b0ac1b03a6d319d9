import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKGROUND_LOOKAHEAD_MS, CamsBudget, FALLBACK_FRACTION, processBudget, type SlotStore } from '../../../../shared/cams/budget/budget.ts';
import { CamsClient } from '../../../../shared/cams/client.ts';
import { intervalForQps, QPS_HEADROOM } from '../../../../shared/cams/limiter.ts';
import { decideSlot, openStore, StoreError } from '../../../../shared/store/index.ts';
import { fakeClock } from '../scripted-cams.ts';

const HEALTH = 'GetWhatsappHealthStatus' as const;
const I5 = intervalForQps(5); // 208

/** A SlotStore on the fake clock (the real adapters use their own clock), which can be switched off. */
function fakeSlotStore(clock: { now(): number }) {
  const tats = new Map<string, number>();
  const s = {
    up: true,
    calls: 0,
    async reserveSlot(key: string, intervalMs: number, maxWaitMs: number) {
      s.calls++;
      if (!s.up) throw new StoreError('UNAVAILABLE', 'redis store redis://x unavailable: connect ECONNREFUSED');
      const d = decideSlot(tats.get(key), clock.now(), intervalMs, maxWaitMs);
      if (d.nextTat !== undefined) tats.set(key, d.nextTat);
      return { granted: d.granted, waitMs: d.waitMs, at: d.at };
    },
  };
  return s;
}

const req = (priority: 'interactive' | 'background' | 'sweep' | 'discovery', latestStart = Infinity, extra = {}) => ({ account: 'a', action: HEALTH, priority, latestStart, ...extra });

describe('CamsBudget on a fake clock', () => {
  it('spaces a burst at the budget and never lets more than qps start in a sliding second', async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock) });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 20 }, () => budget.acquire(req('interactive')).then((a) => (expect(a.ok).toBe(true), starts.push(clock.now())))));
    starts.sort((a, b) => a - b);
    expect(starts).toEqual(Array.from({ length: 20 }, (_, i) => i * I5));
  });

  it('keeps a fractional spacing on a whole-ms clock: 100 QPS is 10.4 ms a slot, not 11 (1.10x the bound)', async () => {
    const clock = fakeClock(0);
    const wholeMs = { now: clock.now, sleep: (ms: number) => clock.sleep(Math.ceil(ms)) };
    const budget = new CamsBudget({ clock: wholeMs, store: fakeSlotStore(clock), qps: { [HEALTH]: 100 } });
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 201 }, () => budget.acquire(req('interactive')).then((a) => (expect(a.ok).toBe(true), starts.push(clock.now())))));
    starts.sort((a, b) => a - b);
    expect(starts[200]! - starts[0]!).toBeGreaterThanOrEqual(2080);
    expect(starts[200]! - starts[0]!).toBeLessThanOrEqual(2081);
    expect(budget.lateSlots).toBe(0);
  });

  it('a caller whose slot would come after its latest start is refused at once and spends no slot', async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock) });
    const granted = await Promise.all([0, 1, 2].map(() => budget.acquire(req('interactive', 500))));
    expect(granted.map((g) => g.ok)).toEqual([true, true, true]); // 0, 208, 416
    const t = clock.now();
    const refused = await budget.acquire(req('interactive', 500)); // next slot 624 > 500
    expect(refused).toEqual({ ok: false, retryAfterMs: 624 - t });
    expect(clock.now()).toBe(t); // no waiting for a slot it could not use
    await budget.acquire(req('interactive'));
    expect(clock.now()).toBe(624); // the refused caller did not take 624
  });

  it('the sweep takes only a free slot: an interactive call that comes later still goes first', async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock), random: () => 0 });
    const order: string[] = [];
    const done = (name: string) => () => order.push(`${name}@${clock.now()}`);
    const queue = Array.from({ length: 5 }, (_, i) => budget.acquire(req('interactive')).then(done(`i${i}`)));
    const sweep = budget.acquire(req('sweep')).then(done('sweep'));
    // An interactive call that arrives while the sweep is waiting for the queue to drain.
    await new Promise((r) => setImmediate(r));
    const late = budget.acquire(req('interactive')).then(done('late'));
    await Promise.all([...queue, sweep, late]);
    expect(order.indexOf('late@1040')).toBeGreaterThan(-1);
    const sweepAt = Number(order.find((o) => o.startsWith('sweep'))!.split('@')[1]);
    expect(sweepAt).toBeGreaterThan(1040);
  });

  it("the sweep's waiters ask the store one at a time: 100 of them at 100 QPS take every slot, about one store call each", async () => {
    const clock = fakeClock(0);
    const store = fakeSlotStore(clock);
    const budget = new CamsBudget({ clock, store, qps: { [HEALTH]: 100 } });
    const I100 = intervalForQps(100);
    const starts: number[] = [];
    // 300 acquires by 100 concurrent loops, as the sweep's checks do.
    let left = 300;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (left-- > 0) {
          const a = await budget.acquire(req('sweep'));
          expect(a.ok).toBe(true);
          starts.push(clock.now());
        }
      }),
    );
    starts.sort((a, b) => a - b);
    expect(starts).toHaveLength(300);
    // Every slot taken, none twice, none skipped: start i at i slots.
    starts.forEach((t, i) => expect(t).toBeCloseTo(i * I100, 6));
    // Each waiter polling on its own asked ~80 times per slot here (16 in the bench); queued, about one call per slot.
    expect(store.calls).toBeLessThanOrEqual(330);
  });

  it("a sweep waiter queued behind another gives up at its latest start and spends no slot", async () => {
    const clock = fakeClock(0);
    const store = fakeSlotStore(clock);
    const budget = new CamsBudget({ clock, store });
    // Interactive calls hold the next 2 s, so the first sweep waiter polls (and holds the queue) meanwhile.
    await Promise.all(Array.from({ length: 10 }, () => budget.acquire(req('interactive', 100, {})).catch(() => undefined)));
    const queue = Array.from({ length: 10 }, () => budget.acquire(req('interactive')));
    const first = budget.acquire(req('sweep'));
    const hurried = budget.acquire(req('sweep', clock.now() + 600));
    expect(await hurried).toMatchObject({ ok: false });
    expect(clock.now()).toBeLessThanOrEqual(600 + 250);
    const got = await first;
    expect(got.ok).toBe(true);
    await Promise.all(queue);
    // Granted: 1 + 10 interactive slots and the first sweep's; the hurried one spent none.
    const next = await budget.acquire(req('interactive'));
    expect(next.ok).toBe(true);
    expect(clock.now()).toBeCloseTo(12 * I5, 6);
  });

  it('discovery runs below the sweep: with both waiting behind a queue, the sweep gets the first free slot', async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock), random: () => 0 });
    const order: string[] = [];
    const done = (name: string) => (a: { ok: boolean }) => (expect(a.ok).toBe(true), order.push(name));
    const queue = Array.from({ length: 3 }, () => budget.acquire(req('interactive')).then(done('i')));
    const discovery = budget.acquire(req('discovery')).then(done('discovery'));
    const sweep = budget.acquire(req('sweep')).then(done('sweep'));
    await Promise.all([...queue, discovery, sweep]);
    expect(order).toEqual(['i', 'i', 'i', 'sweep', 'discovery']);
  });

  it('background looks ahead at most BACKGROUND_LOOKAHEAD_MS, then waits its turn; refused when its time runs out', async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock), random: () => 0 });
    // 20 interactive slots: the queue reaches 20 × 208 = 4160 ms ahead.
    const queue = Array.from({ length: 20 }, () => budget.acquire(req('interactive')));
    await new Promise((r) => setImmediate(r));
    const refused = await budget.acquire(req('background', 1000));
    expect(refused.ok).toBe(false);
    const bg = await budget.acquire(req('background'));
    expect(bg.ok).toBe(true);
    // It got the first slot after the queue, reserved when that slot was within its lookahead.
    expect(clock.now()).toBe(20 * I5);
    expect(20 * I5).toBeGreaterThan(BACKGROUND_LOOKAHEAD_MS);
    await Promise.all(queue);
  });

  it("a caller's share (MONITOR_QPS) caps it below the budget", async () => {
    const clock = fakeClock(0);
    const budget = new CamsBudget({ clock, store: fakeSlotStore(clock) });
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await budget.acquire(req('sweep', Infinity, { shareQps: 1 }));
      starts.push(clock.now());
    }
    expect(starts).toEqual([0, intervalForQps(1), 2 * intervalForQps(1)]);
  });

  it('a caller that wakes too late gives its slot up and takes the next one', async () => {
    const clock = fakeClock(0);
    let overshoot = 50;
    const lateClock = {
      now: clock.now,
      sleep: async (ms: number) => {
        await clock.sleep(ms + overshoot);
        overshoot = 0;
      },
    };
    const budget = new CamsBudget({ clock: lateClock, store: fakeSlotStore(clock) });
    await budget.acquire(req('interactive')); // slot 0, no sleep
    await budget.acquire(req('interactive')); // slot 208, woke at 258: given up, slot 416 instead
    expect(clock.now()).toBe(416);
    expect(budget.lateSlots).toBe(1);
  });

  it('store unreachable: per-instance limiter at FALLBACK_FRACTION, logged once; back to the store when it returns', async () => {
    const clock = fakeClock(0);
    const store = fakeSlotStore(clock);
    const logs: Array<[string, string]> = [];
    const budget = new CamsBudget({ clock, store, storeRetryMs: 1000, log: (level, message) => logs.push([level, message]) });
    store.up = false;
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect((await budget.acquire(req('interactive'))).ok).toBe(true);
      starts.push(clock.now());
    }
    expect(FALLBACK_FRACTION).toBe(0.25);
    // 1/4 of 5 QPS is one whole call a second (see the next test), so 1040 ms apart, not I5 / 0.25.
    expect(starts).toEqual([0, intervalForQps(1), 2 * intervalForQps(1)]);
    expect(budget.isDegraded).toBe(true);
    expect(logs.filter(([l]) => l === 'warn')).toHaveLength(1);
    expect(logs[0]![1]).toMatch(/unreachable.*0\.25/);
    store.up = true;
    clock.advance(5000);
    const before = store.calls;
    await budget.acquire(req('interactive'));
    expect(store.calls).toBe(before + 1);
    expect(budget.isDegraded).toBe(false);
    expect(logs.map(([l]) => l)).toEqual(['warn', 'info']);
  });

  describe('its default log lines go through the one log writer', () => {
    afterEach(() => {
      vi.restoreAllMocks();
      delete process.env['LOG_LEVEL'];
    });
    const degradedLines = async () => {
      const lines: string[] = [];
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
      const clock = fakeClock(0);
      const store = fakeSlotStore(clock);
      store.up = false;
      await new CamsBudget({ clock, store }).acquire(req('interactive'));
      return lines;
    };

    it('the store-unreachable warning is a log record at warn', async () => {
      const lines = await degradedLines();
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', message: expect.stringMatching(/unreachable/) });
    });

    it('LOG_LEVEL=error keeps it out', async () => {
      process.env['LOG_LEVEL'] = 'error';
      expect(await degradedLines()).toEqual([]);
    });
  });

  it("store gone: the fallback's first slot comes after the store's schedule as this instance last saw it, not beside the slots it had granted", async () => {
    // Ten HTTP calls had store slots for the next 2 s when the store went away; an eleventh call
    // then got the fallback's first slot at once, beside them: 6 calls in one second at 5 QPS.
    const clock = fakeClock(0);
    const store = fakeSlotStore(clock);
    const budget = new CamsBudget({ clock, store, log: () => {} });
    const starts: number[] = [];
    const take = () =>
      budget.acquire(req('interactive', 10_000)).then((a) => {
        expect(a.ok).toBe(true);
        starts.push(clock.now());
      });
    const queued = Array.from({ length: 10 }, take);
    await new Promise((r) => setImmediate(r));
    store.up = false;
    await clock.sleep(100);
    await Promise.all([...queued, take(), take()]);
    starts.sort((a, b) => a - b);
    let most = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (starts[i]! - starts[j]! >= 1000) j++;
      most = Math.max(most, i - j + 1);
    }
    expect(most).toBeLessThanOrEqual(5);
    expect(starts.slice(10)[0]).toBeGreaterThanOrEqual(10 * I5);
  });

  it('store back: a degraded instance finds it within about storeRetryMs and then starts no call on its own schedule, which the store does not know', async () => {
    // Six HTTP calls with 10 s left each came while the store was down: the fallback granted them
    // slots of its own up to 5.2 s ahead at once, and nothing asked the store again, so those calls
    // ran beside the store's whole budget (other instances') for seconds after it was back.
    const clock = fakeClock(0);
    const store = fakeSlotStore(clock);
    const granted = new Set<number>();
    const tracked: SlotStore = {
      async reserveSlot(key, intervalMs, maxWaitMs) {
        const r = await store.reserveSlot(key, intervalMs, maxWaitMs);
        if (r.granted) granted.add(r.at);
        return r;
      },
    };
    let backAt: number | undefined;
    const budget = new CamsBudget({ clock, store: tracked, storeRetryMs: 1000, log: (level) => void (level === 'info' && (backAt ??= clock.now())) });
    store.up = false;
    const starts: number[] = [];
    const calls = Array.from({ length: 6 }, () =>
      budget.acquire(req('interactive', 10_000)).then((a) => {
        expect(a.ok).toBe(true);
        starts.push(clock.now());
      }),
    );
    await clock.sleep(1500);
    store.up = true;
    await Promise.all(calls);
    expect(backAt).toBeDefined();
    expect(backAt!).toBeLessThanOrEqual(1500 + 1000 + intervalForQps(1));
    const after = starts.filter((t) => t >= backAt!);
    expect(after.length).toBeGreaterThan(0);
    for (const t of after) expect({ t, store: granted.has(t) }).toEqual({ t, store: true });
    // While degraded, still one whole call a second (5 QPS × 1/4).
    const before = starts.filter((t) => t < backAt!).sort((a, b) => a - b);
    for (let i = 1; i < before.length; i++) expect(before[i]! - before[i - 1]!).toBeGreaterThanOrEqual(intervalForQps(1));
  });

  it("store unreachable: FALLBACK_FRACTION counted as CAMS counts, so 1/FALLBACK_FRACTION instances stay within a sliding second", async () => {
    // Each instance on its own at 1/4 of 5 QPS (832 ms apart) still started 2 calls in a second, and
    // 3 instances started 6: CAMS throttled. A fraction of the budget is a fraction of each second.
    for (const qps of [5, 10, 7, 100]) {
      const clock = fakeClock(0);
      const instances = Math.round(1 / FALLBACK_FRACTION);
      const starts: number[] = [];
      await Promise.all(
        Array.from({ length: instances }, async () => {
          const store = fakeSlotStore(clock);
          store.up = false;
          const budget = new CamsBudget({ clock, store, qps: { [HEALTH]: qps }, storeRetryMs: 1e9, log: () => {} });
          while (clock.now() < 5000) {
            expect((await budget.acquire(req('interactive'))).ok).toBe(true);
            starts.push(clock.now());
          }
        }),
      );
      starts.sort((a, b) => a - b);
      let most = 0;
      for (let i = 0, j = 0; i < starts.length; i++) {
        while (starts[i]! - starts[j]! >= 1000) j++;
        most = Math.max(most, i - j + 1);
      }
      expect({ qps, most }).toEqual({ qps, most: Math.min(most, qps) });
      // Still about the fraction of the budget over time (whole calls a second: 1 of 1.25 at 5 QPS).
      expect(starts.length / instances / 5).toBeGreaterThanOrEqual((0.9 * Math.floor(qps * FALLBACK_FRACTION)) / (1 + QPS_HEADROOM));
    }
  });

  it('a store that hangs counts as unreachable after storeTimeoutMs; a store that cannot open too', async () => {
    const hanging: SlotStore = { reserveSlot: () => new Promise(() => {}) };
    const logs: string[] = [];
    const budget = new CamsBudget({ store: hanging, storeTimeoutMs: 20, log: (_l, m) => logs.push(m) });
    expect((await budget.acquire(req('interactive'))).ok).toBe(true);
    expect(budget.isDegraded).toBe(true);
    const unopenable = new CamsBudget({ store: () => openStore('redis://127.0.0.1:1', { redis: { connectTimeoutMs: 50 } }), log: (_l, m) => logs.push(m) });
    expect((await unopenable.acquire(req('interactive'))).ok).toBe(true);
    expect(unopenable.isDegraded).toBe(true);
    expect(logs).toHaveLength(2);
  });

  it("a store that hangs does not keep a caller past its latest start: refused then, not admitted after the store's timeout", async () => {
    // An HTTP call with 300 ms left waited out the whole storeTimeoutMs (2 s), then was admitted by
    // the fallback after its latest start: the function answered after its FC timeout.
    const hanging: SlotStore = { reserveSlot: () => new Promise(() => {}) };
    const budget = new CamsBudget({ store: hanging, log: () => {} });
    const t0 = Date.now();
    const a = await budget.acquire(req('interactive', t0 + 300));
    expect(a).toMatchObject({ ok: false });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(a.ok === false && a.retryAfterMs > 0).toBe(true);
  });

  it("a slow store's grant past the caller's latest start is refused, not slept on: the store measured the lookahead from when it ran", async () => {
    // The store ran the reservation 400 ms after the caller asked (a busy redis, a queued command),
    // so it granted a slot up to the lookahead after that: 300 ms past the caller's latest start.
    // The caller slept until then and was admitted after its latest start (an HTTP call answered
    // after its FC timeout instead of 429).
    const clock = fakeClock(0);
    let tat = 1300;
    const slow: SlotStore = {
      async reserveSlot(_key, intervalMs, maxWaitMs) {
        clock.advance(400);
        const d = decideSlot(tat, clock.now(), intervalMs, maxWaitMs);
        if (d.nextTat !== undefined) tat = d.nextTat;
        return { granted: d.granted, waitMs: d.waitMs, at: d.at };
      },
    };
    const budget = new CamsBudget({ clock, store: slow, log: () => {} });
    const a = await budget.acquire(req('interactive', 1000));
    expect(a).toMatchObject({ ok: false });
    expect(clock.now()).toBeLessThanOrEqual(1000);
    expect(a.ok === false && a.retryAfterMs).toBeGreaterThanOrEqual(1300 - 400);
    const bg = await budget.acquire(req('background', clock.now() + 1000));
    expect(bg).toMatchObject({ ok: false });
    expect(clock.now()).toBeLessThanOrEqual(1400);
  });

  it('a programming error from the store is not mistaken for an outage', async () => {
    const broken: SlotStore = { reserveSlot: () => Promise.reject(new TypeError('reserveSlot intervalMs must be a finite number > 0')) };
    const budget = new CamsBudget({ store: broken, log: () => {} });
    await expect(budget.acquire(req('interactive'))).rejects.toThrow(TypeError);
  });

  it('a STORE_URL the store refuses (bad path, wrong password) is not an outage either: no per-instance budget hides it', async () => {
    const logs: string[] = [];
    const unopenable = new CamsBudget({ store: () => openStore('redis://127.0.0.1:1/not-a-db'), log: (_l, m) => logs.push(m) });
    await expect(unopenable.acquire(req('interactive'))).rejects.toMatchObject({ name: 'StoreError', code: 'CONFIG' });
    const refusing: SlotStore = { reserveSlot: () => Promise.reject(new StoreError('CONFIG', 'redis store redis://127.0.0.1:1: EVALSHA failed: WRONGPASS')) };
    const budget = new CamsBudget({ store: refusing, log: (_l, m) => logs.push(m) });
    await expect(budget.acquire(req('interactive'))).rejects.toMatchObject({ code: 'CONFIG' });
    expect(unopenable.isDegraded || budget.isDegraded).toBe(false);
    expect(logs).toEqual([]);
  });

  it('refuses a bad budget by name', () => {
    expect(() => new CamsBudget({ qps: { [HEALTH]: 0 } })).toThrow(/qps/);
    expect(() => new CamsBudget({ fallbackFraction: 2 })).toThrow(/fallbackFraction/);
  });
});

describe('processBudget', () => {
  it('is one budget for the whole process, built on first use, which clients given none share', () => {
    const first = processBudget();
    expect(first).toBeInstanceOf(CamsBudget);
    expect(processBudget()).toBe(first);
    const client = (): unknown => (new CamsClient({ endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'id', accessKeySecret: 'secret' } }) as unknown as { budget: unknown }).budget;
    expect(client()).toBe(first);
    expect(client()).toBe(client());
  });
});
