import { describe, expect, it } from 'vitest';
import { loadWatchList, parseMonitorTargets, registerWatchTarget, targetId, type WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';

describe('targetId', () => {
  it('names what a target watches, whatever order its fields were written in', () => {
    expect(targetId({ NodeType: 'phone', CustSpaceId: 'C1', PhoneNumber: '8613800000000' })).toBe('phone:C1:8613800000000');
    expect(targetId({ CustSpaceId: 'C1', TemplateCode: 'T1', Language: 'en', NodeType: 'template' })).toBe('template:C1:T1/en');
    expect(targetId({ NodeType: 'waba', CustSpaceId: 'C1', WabaId: '123' })).toBe('waba:C1:123');
  });

  it('gives a waba target without WabaId (the space’s own WABA) an id without "undefined"', () => {
    const { targets, problems } = parseMonitorTargets(JSON.stringify([{ CustSpaceId: 'C1', NodeType: 'waba' }]));
    expect(problems).toEqual([]);
    expect(targetId(targets[0]!)).toBe('waba:C1:');
  });
});

describe('loadWatchList', () => {
  it('gives the event loop turns while it validates a long list (it runs beside the first checks), and keeps every target', async () => {
    const store = await openStore('memory:');
    const n = 3_000;
    const targets: WatchTarget[] = Array.from({ length: n }, (_, i) => ({ CustSpaceId: 'C1', NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en' }));
    for (const t of targets) await registerWatchTarget(store, t, 'test');
    await store.put('watch/broken', { target: { NodeType: 'template' } });
    let turns = 0;
    let done = false;
    const ticker = (): void => {
      if (done) return;
      turns++;
      setImmediate(ticker);
    };
    setImmediate(ticker);
    const listed = await loadWatchList(store, []);
    done = true;
    expect(listed.targets).toHaveLength(n);
    expect(listed.problems).toEqual([{ where: 'watch/broken', message: 'stored target is not valid' }]);
    expect(new Set(listed.targets.map((t) => t.id))).toEqual(new Set(targets.map(targetId)));
    // One turn per 500 entries at least (the list itself may take none).
    expect(turns).toBeGreaterThanOrEqual(Math.floor(n / 500) - 1);
    await store.close();
  });
});
