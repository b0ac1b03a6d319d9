import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handler } from '../../../functions/status-page/handler.ts';
import { fcContext, httpEvent } from '../../support/events.ts';

// A file of its own: the handler keeps its config from its first request (handler.test.ts points it at a redis-server).
beforeAll(() => {
  process.env['STATUS_PAGE_PUBLIC'] = 'true';
});
afterAll(() => {
  delete process.env['STATUS_PAGE_PUBLIC'];
});

// FC 3.0's HTTP trigger hands `?waba=1&waba=2` over as one key, its values joined with commas.
const get = (query: Record<string, string>) => handler(httpEvent({ method: 'GET', path: '/status', query, headers: {}, body: '' } as never, 'fc-http'), fcContext() as never);

describe('GET /status query (the real handler, an FC 3.0 HTTP trigger event)', () => {
  it('waba given twice (FC joins the values with a comma) is a 400 naming waba as given more than once, not "must be a WabaId"', async () => {
    const res = await get({ waba: '1,2' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).toContain('InvalidParameter');
    expect(res.body).toContain('<li>waba: given more than once in the query: give one WabaId</li>');
    expect(res.body).not.toContain('must be a WabaId');
  });

  it('one waba that is not a WabaId still says what a WabaId is', async () => {
    const res = await get({ waba: 'abc' });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('<li>waba: must be a WabaId (digits) as the page links it</li>');
  });
});
