import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { handler } from '../../../functions/silences/handler.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { tempFileStore } from '../../support/monitor.ts';
import { CALLER_KEY } from '../../support/sandbox-env.ts';

let cleanup: () => Promise<void>;
let n = 0;

beforeAll(async () => {
  const temp = await tempFileStore();
  cleanup = temp.cleanup;
  process.env['STORE_URL'] = temp.url;
  process.env['API_KEYS'] ??= `${CALLER_KEY.accessKeyId}:${CALLER_KEY.accessKeySecret}`;
});
afterAll(async () => {
  await cleanup?.();
  delete process.env['STORE_URL'];
});

async function call(method: string, path: string, body?: Record<string, unknown>, query?: Record<string, string>) {
  const signed = signRouteRequest({ method, path, ...(body ? { body } : {}), ...(query ? { query } : {}) }, 'h', CALLER_KEY, { nonce: `sil-${process.pid}-${++n}` });
  return parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never));
}

const hour = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
const valid = () => ({ Matchers: [{ Name: 'PhoneNumber', Value: '8613800000001' }], EndsAt: hour(2), CreatedBy: 'ops@example.com', Comment: 'known: payment method being fixed' });

describe('POST/GET/DELETE /silences', () => {
  it('creates, lists (active), ends early (listed as expired; a second DELETE answers the same), and 404s an unknown id', async () => {
    const created = await call('POST', '/silences', valid());
    expect(created.statusCode).toBe(200);
    const id = created.body.Data!['SilenceId'] as string;
    expect(id).toMatch(/^sil-[0-9a-f]{24}$/);

    const listed = await call('GET', '/silences');
    const mine = (listed.body.Data!['Silences'] as Array<Record<string, unknown>>).find((s) => s['SilenceId'] === id);
    expect(mine).toMatchObject({ State: 'active', CreatedBy: 'ops@example.com', Matchers: [{ Name: 'PhoneNumber', Value: '8613800000001' }], Suppressed: 0 });

    const deleted = await call('DELETE', `/silences/${id}`);
    expect(deleted.statusCode).toBe(200);
    expect(deleted.body.Data).toMatchObject({ SilenceId: id, State: 'expired' });
    const after = (await call('GET', '/silences')).body.Data!['Silences'] as Array<Record<string, unknown>>;
    expect(after.find((s) => s['SilenceId'] === id)).toMatchObject({ State: 'expired', ExpiredAt: expect.any(String) });
    // Sent again (its answer lost, say): the same answer, not 404 for a silence GET still lists.
    const again = await call('DELETE', `/silences/${id}`);
    expect(again.statusCode).toBe(200);
    expect(again.body.Data).toEqual(deleted.body.Data);

    const unknown = await call('DELETE', '/silences/sil-000000000000000000000000');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.body.Code).toBe('SilenceNotFound');
    expect((await call('DELETE', '/silences/nope')).body.Fields).toEqual([{ Field: 'id', Message: expect.stringContaining('SilenceId') }]);
    // An escaped slash is part of the id (no SilenceId holds one), not a path of its own (404 NotFound).
    const slashed = await call('DELETE', '/silences/a%2Fb');
    expect(slashed.statusCode).toBe(400);
    expect(slashed.body.Fields).toEqual([{ Field: 'id', Message: expect.stringContaining('SilenceId') }]);
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an end before its start', { ...valid(), StartsAt: hour(3), EndsAt: hour(1) }, 'EndsAt', /after StartsAt/],
    ['no matchers', { ...valid(), Matchers: [] }, 'Matchers', /at least one matcher/],
    ['an unknown matcher name', { ...valid(), Matchers: [{ Name: 'Severity', Value: 'critical' }] }, 'Matchers.0.Name', /one of CustSpaceId, WabaId/],
    // A name every object answers to (Object.prototype's) is as unknown as any other, not a 500.
    ['a matcher named after an Object method', { ...valid(), Matchers: [{ Name: 'toString', Value: '1' }] }, 'Matchers.0.Name', /one of CustSpaceId, WabaId/],
    ['a matcher named constructor', { ...valid(), Matchers: [{ Name: 'constructor', Value: '1' }] }, 'Matchers.0.Name', /one of CustSpaceId, WabaId/],
    ['a NodeType matcher no node has', { ...valid(), Matchers: [{ Name: 'NodeType', Value: 'bogus' }] }, 'Matchers.0.Value', /one of waba, phone, template, monitor \(for NodeType\)/],
    ['an AlertName the monitor never gives', { ...valid(), Matchers: [{ Name: 'AlertName', Value: 'NOPE' }] }, 'Matchers.0.Value', /one of WABA, PHONE_NUMBER, .*PHONE_QUALITY/],
    ['a PhoneNumber that is not the whole number', { ...valid(), Matchers: [{ Name: 'WabaId', Value: '2234567890' }, { Name: 'PhoneNumber', Value: '+86 138' }] }, 'Matchers.1.Value', /country code first.*\(for PhoneNumber\)/],
    ['two values for one name (all matchers must hold: it would silence nothing)', { ...valid(), Matchers: [{ Name: 'WabaId', Value: '2234567890' }, { Name: 'NodeType', Value: 'phone' }, { Name: 'WabaId', Value: '2234567891' }] }, 'Matchers.2.Name', /already matched with another value \(Matchers\.0\)/],
    ['a WabaId that is not one', { ...valid(), Matchers: [{ Name: 'WabaId', Value: 'waba-1' }] }, 'Matchers.0.Value', /digits/],
    ['an end in the past', { ...valid(), EndsAt: hour(-1) }, 'EndsAt', /future/],
    ['a time without a zone', { ...valid(), EndsAt: '2030-01-01 10:00' }, 'EndsAt', /ISO 8601/],
    ['a day the month does not have (not rolled over into the next month)', { ...valid(), EndsAt: '2030-02-30T10:00:00Z' }, 'EndsAt', /not a valid time/],
    ['a time whose zone carries it past year 9999 (stored as +010000-…)', { ...valid(), EndsAt: '9999-12-31T23:59:59-23:59' }, 'EndsAt', /not a valid time/],
    ['a StartsAt on a day the month does not have', { ...valid(), StartsAt: '2030-04-31T10:00:00Z', EndsAt: '2030-05-02T10:00:00Z' }, 'StartsAt', /not a valid time/],
    ['a matcher that is not an object', { ...valid(), Matchers: [null] }, 'Matchers.0', /must be an object \{Name, Value\}/],
    ['no creator', { ...valid(), CreatedBy: undefined }, 'CreatedBy', /is required/],
    // Invisible characters alone are no one's name: refused as an empty one is, not stored as a blank.
    ['a creator of zero-width characters only', { ...valid(), CreatedBy: '\u200b\u2060\ufeff' }, 'CreatedBy', /is required: .*invisible/],
    ['a creator of format characters and spaces only', { ...valid(), CreatedBy: ' \u202e\u00ad\u3000\u{e0041} ' }, 'CreatedBy', /is required: .*invisible/],
    ['a comment of invisible characters only', { ...valid(), Comment: '\u200d\u200c\ufe0f' }, 'Comment', /is required: .*invisible/],
    ['a matcher value of invisible characters only', { ...valid(), Matchers: [{ Name: 'AlertName', Value: '\u200b' }] }, 'Matchers.0.Value', /is required: .*invisible/],
    // Shown on the status page as given: none of these is text anyone typed.
    ['a NUL in the comment', { ...valid(), Comment: 'fixing\u0000it' }, 'Comment', /plain text: no control characters/],
    ['a terminal escape in the creator', { ...valid(), CreatedBy: 'ops\u001b[31m' }, 'CreatedBy', /plain text: no control characters/],
    ['an unpaired surrogate in the comment', { ...valid(), Comment: 'half \ud83d of an emoji' }, 'Comment', /no unpaired surrogate/],
    ['an unknown parameter', { ...valid(), Severity: 'x' }, 'Severity', /not a parameter/],
  ];
  for (const [what, body, field, message] of bad) {
    it(`refuses ${what} with a 400 naming ${field}`, async () => {
      const res = await call('POST', '/silences', JSON.parse(JSON.stringify(body)) as Record<string, unknown>);
      expect(res.statusCode).toBe(400);
      expect(res.body.Fields).toContainEqual({ Field: field, Message: expect.stringMatching(message) });
    });
  }

  it('control: a comment over lines, with tabs, an emoji and accents, is kept as given', async () => {
    const Comment = 'payment method being fixed:\n\t- card \u{1F4B3} renewed\r\n\t- caf\u00e9 billing';
    const created = await call('POST', '/silences', { ...valid(), Comment, CreatedBy: 'Zo\u00eb' });
    expect(created.statusCode, JSON.stringify(created.body)).toBe(200);
    const listed = (await call('GET', '/silences')).body.Data!['Silences'] as Array<Record<string, unknown>>;
    expect(listed.find((s) => s['SilenceId'] === created.body.Data!['SilenceId'])).toMatchObject({ Comment, CreatedBy: 'Zo\u00eb' });
  });

  it("takes ISO 8601 times as other languages write them: Python's isoformat() (microseconds), Go's RFC3339Nano (nanoseconds)", async () => {
    const year = new Date().getUTCFullYear() + 1;
    for (const [EndsAt, stored] of [
      [`${year}-03-01T08:00:00.123456+00:00`, `${year}-03-01T08:00:00.123Z`],
      [`${year}-03-01T08:00:00.123456789+08:00`, `${year}-03-01T00:00:00.123Z`],
    ]) {
      const created = await call('POST', '/silences', { ...valid(), EndsAt });
      expect(created.statusCode, JSON.stringify(created.body)).toBe(200);
      const listed = (await call('GET', '/silences')).body.Data!['Silences'] as Array<Record<string, unknown>>;
      expect(listed.find((s) => s['SilenceId'] === created.body.Data!['SilenceId'])).toMatchObject({ EndsAt: stored });
    }
  });

  it('reports every problem in one 400: the checks across fields and against the clock beside the per-field ones', async () => {
    const res = await call('POST', '/silences', {
      Matchers: [{ Name: 'WabaId', Value: 'waba-1' }, { Name: 'Severity', Value: 'x' }, { Name: 'WabaId', Value: '2234567891' }],
      StartsAt: hour(-1),
      EndsAt: hour(-2),
      Comment: 'known',
    });
    expect(res.statusCode).toBe(400);
    expect(res.body.Code).toBe('InvalidParameter');
    expect(res.body.Fields).toEqual(
      expect.arrayContaining([
        { Field: 'Matchers.0.Value', Message: expect.stringMatching(/digits/) },
        { Field: 'Matchers.1.Name', Message: expect.stringMatching(/one of CustSpaceId, WabaId/) },
        { Field: 'Matchers.2.Name', Message: expect.stringMatching(/already matched with another value \(Matchers\.0\)/) },
        { Field: 'CreatedBy', Message: 'is required' },
        { Field: 'EndsAt', Message: 'must be after StartsAt' },
        { Field: 'EndsAt', Message: 'must be in the future' },
      ]),
    );
    expect(res.body.Fields).toHaveLength(6);
    expect(res.body.Message).toContain('EndsAt: must be in the future');
  });

  it('checks the times against each other only when both are times, and the end against the clock only when it is one', async () => {
    const res = await call('POST', '/silences', { ...valid(), StartsAt: 'soon', EndsAt: hour(-1) });
    expect(res.statusCode).toBe(400);
    expect(res.body.Fields).toEqual([
      { Field: 'StartsAt', Message: expect.stringMatching(/ISO 8601/) },
      { Field: 'EndsAt', Message: 'must be in the future' },
    ]);
    const notATime = await call('POST', '/silences', { ...valid(), EndsAt: 'yesterday' });
    expect(notATime.body.Fields).toEqual([{ Field: 'EndsAt', Message: expect.stringMatching(/ISO 8601/) }]);
  });

  it('says one thing of a time that is no time at all', async () => {
    const res = await call('POST', '/silences', { ...valid(), EndsAt: 'tomorrow' });
    expect(res.statusCode).toBe(400);
    expect(res.body.Fields).toEqual([{ Field: 'EndsAt', Message: expect.stringMatching(/ISO 8601/) }]);
  });

  it('GET pages with PageSize and NextToken: each silence once, those in force first; without PageSize, the first 100', async () => {
    const mine: string[] = [];
    for (let h = 1; h <= 5; h++) mine.push((await call('POST', '/silences', { ...valid(), EndsAt: hour(h) })).body.Data!['SilenceId'] as string);
    expect((await call('DELETE', `/silences/${mine[2]}`)).statusCode).toBe(200);
    const seen: Array<Record<string, unknown>> = [];
    let token: string | undefined;
    do {
      const r = await call('GET', '/silences', undefined, { PageSize: '2', ...(token ? { NextToken: token } : {}) });
      expect(r.statusCode, JSON.stringify(r.body)).toBe(200);
      const page = r.body.Data!['Silences'] as Array<Record<string, unknown>>;
      expect(page.length).toBeLessThanOrEqual(2);
      expect(r.body.Data!['PageSize']).toBe(2);
      seen.push(...page);
      token = r.body.Data!['NextToken'] as string | undefined;
    } while (token);
    const ids = seen.map((s) => s['SilenceId']);
    expect(new Set(ids).size).toBe(ids.length);
    // In force, the latest end first; then the ended ones.
    expect(ids.filter((id) => mine.includes(id as string))).toEqual([mine[4], mine[3], mine[1], mine[0], mine[2]]);
    const states = seen.map((s) => s['State']);
    expect(states.lastIndexOf('active')).toBeLessThan(states.indexOf('expired'));

    // The reply of old plus PageSize, and NextToken only when more follow.
    const all = await call('GET', '/silences');
    expect(all.body.Data).toEqual({ Silences: expect.any(Array), PageSize: 100 });
    expect((all.body.Data!['Silences'] as unknown[]).length).toBe(seen.length);
  });

  const badPages: Array<[string, Record<string, string>, string]> = [
    ['a PageSize of 0', { PageSize: '0' }, 'PageSize'],
    ['a PageSize over 500', { PageSize: '501' }, 'PageSize'],
    ['a PageSize that is no number', { PageSize: 'ten' }, 'PageSize'],
    ['a NextToken that is not one', { NextToken: '!!' }, 'NextToken'],
    ["another listing's NextToken (GET /watch-list's)", { NextToken: Buffer.from('watch/phone:cs:8613800000001').toString('base64url') }, 'NextToken'],
    ['an unknown parameter', { State: 'active' }, 'State'],
  ];
  for (const [what, query, field] of badPages) {
    it(`GET refuses ${what} with a 400 naming ${field}`, async () => {
      const res = await call('GET', '/silences', undefined, query);
      expect(res.statusCode).toBe(400);
      expect(res.body.Fields).toEqual([{ Field: field, Message: expect.any(String) }]);
    });
  }

  it('is ACS3-signed like every route', async () => {
    const signed = signRouteRequest({ method: 'GET', path: '/silences' }, 'h', CALLER_KEY, { nonce: `sil-unsigned-${process.pid}` });
    delete signed.headers['Authorization'];
    expect(parseReply(await handler(httpEvent(signed, 'fc-http'), fcContext() as never)).statusCode).toBe(401);
  });
});
