import { beforeEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../../local/sandbox/calls.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { loadMonitorConfig } from '../../../shared/config/monitor.ts';
import { runHealthMonitor } from '../../../shared/services/health-monitor.ts';
import { registerWatchTarget } from '../../../shared/monitor/targets.ts';
import { knownWabaOf } from '../../../shared/monitor/waba-space.ts';
import type { Store } from '../../../shared/store/port.ts';
import { handler } from '../../../functions/watch-list/handler.ts';
import { fcContext, fixture, httpEvent, parseReply, type ParsedReply } from '../../support/events.ts';
import { onboardThroughFunctions, RecordingSink, sandboxAndStorePerFile, setHealth } from '../../support/monitor.ts';
import { signedRepeatedQuery } from '../../support/repeated-query.ts';
import { CALLER_KEY, sandboxControl } from '../../support/sandbox-env.ts';
import { bind } from '../../local/sandbox/helpers.ts';

let sandbox: RunningSandbox;
let store: Store;
let storeUrl: string;
let space: string;
let n = 0;

sandboxAndStorePerFile((parts) => ({ sandbox, store, storeUrl } = parts));

async function watchList(method: 'GET' | 'POST' | 'DELETE', body?: unknown, query?: Record<string, string>): Promise<ParsedReply> {
  const req = signRouteRequest({ method, path: '/watch-list', ...(body === undefined ? {} : { body }), ...(query ? { query } : {}) }, 'h', CALLER_KEY, { nonce: `wl-${process.pid}-${++n}` });
  return parseReply(await handler(httpEvent(req, 'fc-http'), fcContext() as never));
}

async function sweep(clock: number, sink = new RecordingSink(), extraEnv: Record<string, string> = {}) {
  // The monitor's own env: no MONITOR_TARGETS (unless given), the watch list is the store's.
  const env = { STORE_URL: storeUrl, CAMS_ENDPOINT: sandbox.url, ...extraEnv };
  const key = DEFAULT_SANDBOX_KEYS[0]!;
  const inv = { event: fixture('timer-event.json'), context: fcContext({ credentials: { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret } }) as never, requestId: 'tick', deadline: Date.now() + 30_000 };
  const report = await runHealthMonitor(inv, { config: loadMonitorConfig(env), store, sinks: [sink] }, () => clock);
  return { report, sink };
}

async function healthCalls(): Promise<Array<Record<string, string>>> {
  const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRecord[];
  return calls.filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Code === 'OK').map((c) => c.Params);
}

describe('watch-list: validation', () => {
  beforeEach(async () => {
    space ??= await onboardThroughFunctions('399399000100', [{ cc: '86', phone: '13800000300' }]);
  });

  it('every bad target is named by its path, unknown fields by name; nothing is written', async () => {
    const r = await watchList('POST', {
      Targets: [
        { CustSpaceId: space, NodeType: 'waba' },
        { CustSpaceId: space, NodeType: 'phone' },
        { CustSpaceId: space, NodeType: 'template', TemplateCode: 'ok', Language: 'english' },
        { CustSpaceId: space, NodeType: 'waba', Colour: 'red' },
        { CustSpaceId: space, WabaId: '399399000100', Discover: false },
        'not a target',
      ],
    });
    expect(r.statusCode).toBe(400);
    const fields = (r.body['Fields'] as Array<{ Field: string; Message: string }>).map((f) => f.Field);
    expect(fields).toEqual(expect.arrayContaining(['Targets.1.PhoneNumber', 'Targets.2.Language', 'Targets.3.Colour', 'Targets.4.Discover', 'Targets.5']));
    expect(fields).not.toContain('Targets.0.CustSpaceId');
    expect((r.body['Fields'] as Array<{ Field: string; Message: string }>).find((f) => f.Field === 'Targets.5')!.Message).toMatch(/^must be an object: \{CustSpaceId, NodeType/);
    expect((await watchList('GET')).body.Data!['Targets']).toEqual([]);
  });

  it('the top-level Code describes the whole request, alike for POST and DELETE: MissingParameter only when every problem is a missing value', async () => {
    // Mostly malformed, one entry missing a field: the request is an invalid one, not merely incomplete.
    const mostlyBad = {
      Targets: [
        { CustSpaceId: space, NodeType: 'phone' },
        { CustSpaceId: space, NodeType: 'template', TemplateCode: 'ok', Language: 'english' },
        { CustSpaceId: space, NodeType: 'waba', Colour: 'red' },
        { CustSpaceId: space, WabaId: 'x', Discover: false },
        'not a target',
        { CustSpaceId: 'bad space', NodeType: 'nope' },
      ],
    };
    const onlyMissing = { Targets: [{ NodeType: 'waba' }, { CustSpaceId: space, NodeType: 'phone' }, { CustSpaceId: space, NodeType: 'template', Language: 'en' }] };
    for (const method of ['POST', 'DELETE'] as const) {
      const bad = await watchList(method, mostlyBad);
      expect(bad.statusCode, method).toBe(400);
      expect(bad.body['Code'], method).toBe('InvalidParameter');
      expect((bad.body['Fields'] as Array<{ Field: string }>).map((f) => f.Field), method).toEqual([
        'Targets.0.PhoneNumber',
        'Targets.1.Language',
        'Targets.2.Colour',
        'Targets.3.WabaId',
        'Targets.3.Discover',
        'Targets.4',
        'Targets.5.CustSpaceId',
        'Targets.5.NodeType',
      ]);
      const missing = await watchList(method, onlyMissing);
      expect(missing.statusCode, method).toBe(400);
      expect(missing.body['Code'], method).toBe('MissingParameter');
      expect((missing.body['Fields'] as Array<{ Field: string }>).map((f) => f.Field), method).toEqual(['Targets.0.CustSpaceId', 'Targets.1.PhoneNumber', 'Targets.2.TemplateCode']);
      const noTargets = await watchList(method, {});
      expect([noTargets.statusCode, noTargets.body['Code']], method).toEqual([400, 'MissingParameter']);
    }
  });

  it('a field of another NodeType (TemplateCode on a phone, PhoneNumber on a waba) is a 400 naming it; nothing is written', async () => {
    for (const method of ['POST', 'DELETE'] as const) {
      const r = await watchList(method, {
        Targets: [
          { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000300', TemplateCode: 'order_update' },
          { CustSpaceId: space, NodeType: 'waba', PhoneNumber: '8613800000300' },
          { CustSpaceId: space, NodeType: 'template', TemplateCode: 'order_update', Language: 'en', PhoneNumber: '8613800000300' },
          { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000300', WabaId: '399399000100' },
        ],
      });
      expect(r.statusCode, method).toBe(400);
      expect(r.body['Code'], method).toBe('InvalidParameter');
      expect(r.body['Fields'], method).toEqual([
        { Field: 'Targets.0.TemplateCode', Message: 'names a template node: leave it out when NodeType is phone' },
        { Field: 'Targets.1.PhoneNumber', Message: 'names a phone node: leave it out when NodeType is waba' },
        { Field: 'Targets.2.PhoneNumber', Message: 'names a phone node: leave it out when NodeType is template' },
      ]);
    }
    expect((await watchList('GET')).body.Data!['Targets']).toEqual([]);
  });

  it('Targets missing, empty or over 1000 entries is a 400 naming Targets; a bad PageSize or NextToken names it', async () => {
    for (const body of [{}, { Targets: [] }, { Targets: Array.from({ length: 1001 }, () => ({ CustSpaceId: space, NodeType: 'waba' })) }]) {
      const r = await watchList('POST', body);
      expect(r.statusCode).toBe(400);
      expect((r.body['Fields'] as Array<{ Field: string }>)[0]!.Field).toBe('Targets');
    }
    const size = await watchList('GET', undefined, { PageSize: '0' });
    expect(size.statusCode).toBe(400);
    expect((size.body['Fields'] as Array<{ Field: string }>)[0]!.Field).toBe('PageSize');
    const token = await watchList('GET', undefined, { NextToken: 'bm90LWEta2V5' });
    expect(token.statusCode).toBe(400);
    expect((token.body['Fields'] as Array<{ Field: string }>)[0]!.Field).toBe('NextToken');
  });
});

describe('watch-list: a query key given twice', () => {
  it('GET /watch-list?PageSize=10&PageSize=20, signed right, is 400 naming PageSize (not 403)', async () => {
    const signed = signedRepeatedQuery('/watch-list', [['PageSize', '10'], ['PageSize', '20']], 'h', CALLER_KEY, { nonce: `wl-twice-${process.pid}` });
    const r = parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never));
    expect(r.statusCode).toBe(400);
    expect(r.body).toMatchObject({ Code: 'InvalidParameter', Fields: [{ Field: 'PageSize', Message: 'given more than once in the query' }] });
  });
});

describe('watch-list: what is posted is checked, what is deleted is not', () => {
  it('3 targets posted are checked by the next sweep (the sandbox call log shows them); POST again changes nothing; DELETE removes them', async () => {
    const cs = await onboardThroughFunctions('399399000200', [{ cc: '86', phone: '13800000301' }]);
    await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: cs, Templates: [{ TemplateCode: 'order_update', Language: 'en_US' }] });
    const targets = [
      { CustSpaceId: cs, NodeType: 'waba', WabaId: '399399000200' },
      { CustSpaceId: cs, NodeType: 'phone', PhoneNumber: '8613800000301' },
      { CustSpaceId: cs, NodeType: 'template', TemplateCode: 'order_update', Language: 'en_US' },
    ];
    const posted = await watchList('POST', { Targets: targets });
    expect(posted.statusCode).toBe(200);
    expect(posted.body.Data).toMatchObject({ Added: 3, Updated: 0, Unchanged: 0 });
    const again = await watchList('POST', { Targets: [...targets, targets[0]] });
    expect(again.body.Data).toMatchObject({ Added: 0, Updated: 0, Unchanged: 3 });
    expect((await healthCalls()).filter((p) => p['CustSpaceId'] === cs)).toEqual([]);

    const { report } = await sweep(Date.now());
    expect(report.transientFailures).toBe(0);
    const checked = (await healthCalls()).filter((p) => p['CustSpaceId'] === cs);
    expect(checked.map((p) => p['NodeType']).sort()).toEqual(['phone', 'template', 'waba']);
    expect(checked.find((p) => p['NodeType'] === 'phone')!['PhoneNumber']).toBe('8613800000301');
    expect(checked.find((p) => p['NodeType'] === 'template')).toMatchObject({ TemplateCode: 'order_update', Language: 'en_US' });

    const removed = await watchList('DELETE', { Targets: targets });
    expect(removed.body.Data).toMatchObject({ Removed: 3, Absent: 0 });
    expect((await watchList('DELETE', { Targets: targets })).body.Data).toMatchObject({ Removed: 0, Absent: 3 });
    const before = (await healthCalls()).filter((p) => p['CustSpaceId'] === cs).length;
    await sweep(Date.now() + 10 * 60_000);
    expect((await healthCalls()).filter((p) => p['CustSpaceId'] === cs).length).toBe(before);
  });

  it('an entry an earlier version stored with a field of another NodeType is checked and listed without it', async () => {
    const cs = await onboardThroughFunctions('399399000210', [{ cc: '86', phone: '13800000311' }]);
    const target = { CustSpaceId: cs, NodeType: 'phone', PhoneNumber: '8613800000311', TemplateCode: 'order_update', Language: 'en' };
    await store.put(`watch/phone:${cs}:8613800000311`, { target, source: 'api:old', registeredAt: new Date().toISOString() });
    const { report } = await sweep(Date.now());
    expect(report.transientFailures).toBe(0);
    const checked = (await healthCalls()).filter((p) => p['CustSpaceId'] === cs && p['NodeType'] === 'phone');
    expect(checked.length).toBeGreaterThan(0);
    for (const p of checked) expect(Object.keys(p).sort()).toEqual(['CustSpaceId', 'NodeType', 'PhoneNumber']);
    const listed = (await watchList('GET', undefined, { CustSpaceId: cs })).body.Data!['Targets'] as Array<Record<string, unknown>>;
    expect(listed.find((t) => t['NodeType'] === 'phone')).not.toHaveProperty('TemplateCode');
  });

  it('GET pages through the list with PageSize and NextToken, each entry once, in a stable order', async () => {
    const cs = 'C77770000000001';
    const targets = Array.from({ length: 7 }, (_, i) => ({ CustSpaceId: cs, NodeType: 'phone', PhoneNumber: `86139000000${10 + i}` }));
    await watchList('POST', { Targets: targets });
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await watchList('GET', undefined, { PageSize: '3', CustSpaceId: cs, ...(token ? { NextToken: token } : {}) });
      expect(r.statusCode).toBe(200);
      const page = r.body.Data!['Targets'] as Array<{ Id: string; PhoneNumber: string; Source: string }>;
      expect(page.length).toBeLessThanOrEqual(3);
      seen.push(...page.map((t) => t.PhoneNumber));
      expect(page.every((t) => t.Source === `api:${CALLER_KEY.accessKeyId}`)).toBe(true);
      token = r.body.Data!['NextToken'] as string | undefined;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(targets.map((t) => t.PhoneNumber).sort());
    await watchList('DELETE', { Targets: targets });
  });

  it("a NextToken is refused, naming it, with another CustSpaceId than its page's: it would skip what that filter left out", async () => {
    const [c1, c2] = ['C77770000000002', 'C77770000000003'];
    const targets = [c1, c2].flatMap((cs) => [
      { CustSpaceId: cs, NodeType: 'phone', PhoneNumber: '8613900000020' },
      { CustSpaceId: cs, NodeType: 'phone', PhoneNumber: '8613900000021' },
      { CustSpaceId: cs, NodeType: 'waba', WabaId: '7777' },
    ]);
    await watchList('POST', { Targets: targets });
    try {
      const c2Token = (await watchList('GET', undefined, { PageSize: '1', CustSpaceId: c2 })).body.Data!['NextToken'] as string;
      const allToken = (await watchList('GET', undefined, { PageSize: '1' })).body.Data!['NextToken'] as string;
      const queries: Array<Record<string, string>> = [{ CustSpaceId: c1, NextToken: c2Token }, { NextToken: c2Token }, { CustSpaceId: c1, NextToken: allToken }];
      for (const query of queries) {
        const r = await watchList('GET', undefined, { PageSize: '1', ...query });
        expect(r.statusCode, JSON.stringify(query)).toBe(400);
        expect(r.body['Fields']).toEqual([{ Field: 'NextToken', Message: 'must be the NextToken of the previous page, asked with the same CustSpaceId as that page (or none, if it had none)' }]);
      }
      expect((await watchList('GET', undefined, { PageSize: '1', CustSpaceId: c2, NextToken: c2Token })).statusCode).toBe(200);
    } finally {
      await watchList('DELETE', { Targets: targets });
    }
  });
});

describe("a space's WABA with and without its WabaId is one node", () => {
  const entryIds = async (cs: string) => ((await watchList('GET', undefined, { CustSpaceId: cs })).body.Data!['Targets'] as Array<{ Id: string }>).map((t) => t.Id);
  // Every call, answered or rejected.
  const wabaCalls = async (cs: string) =>
    ((await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRecord[]).filter((c) => c.Action === 'GetWhatsappHealthStatus' && c.Params['CustSpaceId'] === cs && c.Params['NodeType'] === 'waba').map((c) => c.Params);
  const wabaChecks = async (cs: string) => (await wabaCalls(cs)).length;
  const items = (sink: RecordingSink, cs: string) => sink.received.flatMap((m) => m.items).filter((i) => i.subject.custSpaceId === cs);

  it('posted in both forms, in either order or at once: one entry (Ids name it), one check a round, one alert; DELETE of either form removes it', async () => {
    const wabaId = '399399000500';
    const cs = await onboardThroughFunctions(wabaId, []);
    const named = { CustSpaceId: cs, NodeType: 'waba', WabaId: wabaId };
    const own = { CustSpaceId: cs, NodeType: 'waba' };
    expect((await watchList('POST', { Targets: [named] })).body.Data).toMatchObject({ Added: 1 });
    expect((await watchList('POST', { Targets: [own] })).body.Data).toEqual({ Added: 0, Updated: 0, Unchanged: 1, Ids: [`waba:${cs}:${wabaId}`] });
    expect(await entryIds(cs)).toEqual([`waba:${cs}:${wabaId}`]);
    await setHealth(sandbox, { CustSpaceId: cs, NodeType: 'waba', CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '141006', ErrorDescription: 'payment', PossibleSolution: 'pay' }] });
    const sink = new RecordingSink();
    const t0 = Date.now();
    await sweep(t0, sink);
    await sweep(t0 + 10 * 60_000, sink);
    expect(await wabaChecks(cs)).toBe(2);
    expect(items(sink, cs).map((i) => `${i.subject.entityType}:${i.reason}`)).toEqual(['WABA:new']);

    // Without its WabaId first (a space CAMS does not know: every check of it is rejected), then with it.
    const [cs2, waba2] = ['C99990000000021', '399399000521'];
    const first = await watchList('POST', { Targets: [{ CustSpaceId: cs2, NodeType: 'waba' }] });
    expect(first.body.Data).toMatchObject({ Added: 1, Ids: [`waba:${cs2}:`] });
    const registeredAt = ((await watchList('GET', undefined, { CustSpaceId: cs2 })).body.Data!['Targets'] as Array<{ RegisteredAt: string }>)[0]!.RegisteredAt;
    expect((await watchList('POST', { Targets: [{ CustSpaceId: cs2, NodeType: 'waba', WabaId: waba2 }] })).body.Data).toEqual({ Added: 0, Updated: 1, Unchanged: 0, Ids: [`waba:${cs2}:${waba2}`] });
    const moved = (await watchList('GET', undefined, { CustSpaceId: cs2 })).body.Data!['Targets'] as Array<{ Id: string; RegisteredAt: string; WabaId: string }>;
    expect(moved).toEqual([expect.objectContaining({ Id: `waba:${cs2}:${waba2}`, WabaId: waba2, RegisteredAt: registeredAt })]);
    // Both at once.
    const [cs3, waba3] = ['C99990000000022', '399399000522'];
    const both = await watchList('POST', { Targets: [{ CustSpaceId: cs3, NodeType: 'waba' }, { CustSpaceId: cs3, NodeType: 'waba', WabaId: waba3 }] });
    expect(both.body.Data).toEqual({ Added: 1, Updated: 0, Unchanged: 1, Ids: [`waba:${cs3}:${waba3}`, `waba:${cs3}:${waba3}`] });
    // A Discover entry for the WABA of a space watched without its WabaId: the same entry, discovery turned on.
    const [cs6, waba6] = ['C99990000000023', '399399000523'];
    await watchList('POST', { Targets: [{ CustSpaceId: cs6, NodeType: 'waba' }] });
    expect((await watchList('POST', { Targets: [{ CustSpaceId: cs6, WabaId: waba6, Discover: true }] })).body.Data).toEqual({ Added: 0, Updated: 1, Unchanged: 0, Ids: [`waba:${cs6}:${waba6}`] });
    expect((await watchList('GET', undefined, { CustSpaceId: cs6 })).body.Data!['Targets']).toEqual([expect.objectContaining({ Id: `waba:${cs6}:${waba6}`, Discover: true })]);
    expect((await watchList('DELETE', { Targets: [{ CustSpaceId: cs6, NodeType: 'waba' }] })).body.Data).toMatchObject({ Removed: 1 });
    const rejectedSink = new RecordingSink();
    await sweep(t0 + 20 * 60_000, rejectedSink);
    for (const c of [cs2, cs3]) {
      expect(await wabaChecks(c), c).toBe(1);
      expect(items(rejectedSink, c).map((i) => `${i.subject.entityType}:${i.subject.wabaId}`), c).toEqual([`TargetRejected:${c === cs2 ? waba2 : waba3}`]);
    }

    expect((await watchList('DELETE', { Targets: [own] })).body.Data).toMatchObject({ Removed: 1, Absent: 0 });
    expect((await watchList('DELETE', { Targets: [{ CustSpaceId: cs2, NodeType: 'waba' }] })).body.Data).toMatchObject({ Removed: 1 });
    expect((await watchList('DELETE', { Targets: [{ CustSpaceId: cs3, NodeType: 'waba', WabaId: waba3 }, { CustSpaceId: cs3, NodeType: 'waba' }] })).body.Data).toMatchObject({ Removed: 1, Absent: 1 });
    for (const c of [cs, cs2, cs3]) expect(await entryIds(c), c).toEqual([]);
  });

  it("a WabaId other than the one CAMS reported for the space is another node: the space's WABA is still checked, the wrong one rejected", async () => {
    const wabaId = '399399000600';
    const cs = await onboardThroughFunctions(wabaId, []);
    const own = { CustSpaceId: cs, NodeType: 'waba' };
    await watchList('POST', { Targets: [own] });
    const t0 = Date.now() + 60 * 60_000;
    await sweep(t0); // the check reports the space's WABA
    const wrong = await watchList('POST', { Targets: [{ CustSpaceId: cs, NodeType: 'waba', WabaId: '1' }] });
    expect(wrong.body.Data).toMatchObject({ Added: 1, Ids: [`waba:${cs}:1`] });
    // The space's WABA as CAMS named it is not overwritten by a WabaId a caller posted.
    expect(await knownWabaOf(store, cs)).toBe(wabaId);
    const sink = new RecordingSink();
    await sweep(t0 + 10 * 60_000, sink);
    await sweep(t0 + 20 * 60_000, sink);
    const checks = await wabaCalls(cs);
    expect(checks.filter((p) => p['WabaId'] === undefined)).toHaveLength(3);
    expect(checks.filter((p) => p['WabaId'] === '1')).toHaveLength(2);
    expect(items(sink, cs).map((i) => `${i.subject.entityType}:${i.subject.wabaId}`)).toEqual(['TargetRejected:1']);
    await watchList('DELETE', { Targets: [own, { CustSpaceId: cs, NodeType: 'waba', WabaId: '1' }] });
    expect(await entryIds(cs)).toEqual([]);
  });

  it('both forms watched outside POST (MONITOR_TARGETS beside the watch list; entries an onboarding or an earlier version wrote): the sweep checks the WABA once a round, alerts once', async () => {
    const [cs4, waba4, cs5, waba5] = ['C99990000000031', '399399000531', 'C99990000000032', '399399000532'];
    await watchList('POST', { Targets: [{ CustSpaceId: cs4, NodeType: 'waba', WabaId: waba4 }] });
    await registerWatchTarget(store, { CustSpaceId: cs5, NodeType: 'waba' }, 'test');
    await registerWatchTarget(store, { CustSpaceId: cs5, NodeType: 'waba', WabaId: waba5 }, 'onboarding:test');
    expect(await entryIds(cs5)).toEqual([`waba:${cs5}:`, `waba:${cs5}:${waba5}`]);
    const env = { MONITOR_TARGETS: JSON.stringify([{ CustSpaceId: cs4, NodeType: 'waba' }]) };
    const sink = new RecordingSink();
    const t0 = Date.now() + 2 * 60 * 60_000;
    for (let i = 0; i < 3; i++) await sweep(t0 + i * 10 * 60_000, sink, env);
    for (const [cs, wabaId] of [[cs4, waba4], [cs5, waba5]] as const) {
      expect((await wabaCalls(cs)).map((p) => p['WabaId']), cs).toEqual([wabaId, wabaId, wabaId]);
      expect(items(sink, cs).map((i) => `${i.subject.entityType}:${i.subject.wabaId}:${i.reason}`), cs).toEqual([`TargetRejected:${wabaId}:new`]);
    }
    // Both stored: a DELETE of either form removes the node, both entries.
    expect((await watchList('DELETE', { Targets: [{ CustSpaceId: cs5, NodeType: 'waba' }] })).body.Data).toMatchObject({ Removed: 1, Absent: 0 });
    expect(await entryIds(cs5)).toEqual([]);
    await watchList('DELETE', { Targets: [{ CustSpaceId: cs4, NodeType: 'waba' }] });
    expect(await entryIds(cs4)).toEqual([]);
  });

  it('both forms watched before the index knows the WABA (MONITOR_TARGETS): the round that learns it from a check checks the WABA once, and so do the next', async () => {
    const wabaId = '399399000541';
    const cs = await bind(sandbox, wabaId);
    expect(await knownWabaOf(store, cs)).toBeUndefined();
    const env = { MONITOR_TARGETS: JSON.stringify([{ CustSpaceId: cs, NodeType: 'waba' }, { CustSpaceId: cs, NodeType: 'waba', WabaId: wabaId }]) };
    const t0 = Date.now() + 2 * 60 * 60_000;
    const first = await sweep(t0, new RecordingSink(), env);
    expect(first.report.roundComplete).toBe(true);
    expect(await knownWabaOf(store, cs)).toBe(wabaId);
    expect(await wabaChecks(cs)).toBe(1);
    await sweep(t0 + 10 * 60_000, new RecordingSink(), env);
    expect(await wabaChecks(cs)).toBe(2);
  });
});
