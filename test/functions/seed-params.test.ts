import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../local/host/host.ts';
import type { CallRecord } from '../../local/sandbox/calls.ts';
import { sandboxControl } from '../support/sandbox-env.ts';
import { callRoute, type RouteReply } from '../local/host/support.ts';

// Every route takes exactly its CAMS operation's parameters, as the seed pages list them, through the
// local host (serverless.yml, the real functions) against the embedded CAMS sandbox. Required ones
// missing or empty: MissingParameter naming them, and CAMS is not called. Optional ones omitted or
// given: passed through to CAMS as given (the sandbox's call log shows what CAMS received).

let host: RunningHost;
let storeDir: string;

const sandbox = (method: string, path: string, body?: unknown) => sandboxControl({ url: host.sandboxUrl! }, method, path, body);
const calls = async () => (await sandbox('GET', '/__sandbox/calls')) as CallRecord[];

beforeAll(async () => {
  process.env['LOG_LEVEL'] = 'silent';
  storeDir = mkdtempSync(join(tmpdir(), 'cams-fc-seed-'));
  host = await startHost({ port: 0, sandbox: { port: 0 }, timers: false, env: { STORE_URL: `file:${storeDir}` }, log: () => {} });
});
afterAll(async () => {
  await host?.close();
  rmSync(storeDir, { recursive: true, force: true });
});

const WABA = '310000000000001';
const CC = '86';
const PHONE = '13800000077';
const TEMPLATE = '939928001';
let space: string;

beforeEach(async () => {
  await sandbox('POST', '/__sandbox/reset');
  const bound = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: WABA } });
  expect(bound.status).toBe(200);
  space = bound.json.Data!['CustSpaceId'] as string;
  const added = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: CC, PhoneNumber: PHONE, VerifiedName: 'Acme Shop' } });
  expect(added.status).toBe(200);
  await sandbox('PUT', '/__sandbox/health', { CustSpaceId: space, NodeType: 'template', TemplateCode: TEMPLATE, Language: 'en', CanSendMessage: 'AVAILABLE' });
});

interface SeedRoute {
  method: 'GET' | 'POST';
  path: string;
  action: string;
  /** The seed's parameters, each with a valid value. */
  required: Record<string, () => string>;
  /** `context`: the params that come with an optional one; `omitted`: a call it may be left out of. */
  optional: Record<string, { value: () => string; context: () => Record<string, string>; omitted?: () => Record<string, string> }>;
}

// From the seed pages (ChatappBindWaba, QueryChatappBindWaba, AddChatappPhoneNumber, GetWhatsappHealthStatus).
const ROUTES: SeedRoute[] = [
  { method: 'POST', path: '/waba/bind', action: 'ChatappBindWaba', required: { WabaId: () => WABA }, optional: {} },
  {
    method: 'GET',
    path: '/waba',
    action: 'QueryChatappBindWaba',
    required: {},
    optional: {
      CustSpaceId: { value: () => space, context: () => ({}) },
      IsvCode: { value: () => 'aksik93kdkkxmwol93939', context: () => ({ CustSpaceId: space }) },
    },
  },
  {
    method: 'POST',
    path: '/phone-numbers',
    action: 'AddChatappPhoneNumber',
    required: { PhoneNumber: () => '13800000088', CustSpaceId: () => space, Cc: () => CC, VerifiedName: () => 'Alibaba' },
    optional: {
      PreValidateId: { value: () => '1020123', context: () => ({ CustSpaceId: space, Cc: CC, PhoneNumber: '13800000099', VerifiedName: 'Alibaba' }) },
    },
  },
  {
    method: 'GET',
    path: '/health-status',
    action: 'GetWhatsappHealthStatus',
    required: { NodeType: () => 'waba', CustSpaceId: () => space },
    optional: {
      // Each names the node of one NodeType; another NodeType's call goes without it.
      PhoneNumber: { value: () => CC + PHONE, context: () => ({ CustSpaceId: space, NodeType: 'phone' }), omitted: () => ({ CustSpaceId: space, NodeType: 'waba' }) },
      TemplateCode: {
        value: () => TEMPLATE,
        context: () => ({ CustSpaceId: space, NodeType: 'template', Language: 'en' }),
        omitted: () => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: CC + PHONE }),
      },
      Language: {
        value: () => 'en',
        context: () => ({ CustSpaceId: space, NodeType: 'template', TemplateCode: TEMPLATE }),
        omitted: () => ({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: CC + PHONE }),
      },
      WabaId: { value: () => WABA, context: () => ({ CustSpaceId: space, NodeType: 'waba' }) },
    },
  },
];

function send(route: SeedRoute, params: Record<string, string>): Promise<RouteReply> {
  return route.method === 'GET'
    ? callRoute(host.url, { method: 'GET', path: route.path, query: params })
    : callRoute(host.url, { method: 'POST', path: route.path, body: params });
}

/** Calls the route and returns what CAMS received for it (its one new call in the sandbox's log). */
async function sendAndCapture(route: SeedRoute, params: Record<string, string>): Promise<{ reply: RouteReply; cams: CallRecord }> {
  const before = (await calls()).length;
  const reply = await send(route, params);
  const made = (await calls()).slice(before);
  expect(made.map((c) => c.Action)).toEqual([route.action]);
  const cams = made[0]!;
  // What the caller gets is what CAMS answered: its Code, and its RequestId as ours to name.
  expect(reply.json.Code).toBe(cams.Code);
  expect(reply.json['CamsRequestId']).toBe(cams.RequestId);
  return { reply, cams };
}

const requiredParams = (route: SeedRoute) => Object.fromEntries(Object.entries(route.required).map(([k, v]) => [k, v()]));

describe.each(ROUTES)('$method $path takes the seed parameters of $action', (route) => {
  const required = Object.keys(route.required);
  const optional = Object.keys(route.optional);

  if (required.length > 0) {
    it.each(required)('required %s missing → 400 MissingParameter naming it, CAMS not called', async (name) => {
      for (const params of [{ ...requiredParams(route), [name]: undefined }, { ...requiredParams(route), [name]: '' }]) {
        const before = (await calls()).length;
        const sent = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const res = await send(route, sent);
        expect(res.status).toBe(400);
        expect(res.json).toMatchObject({ Code: 'MissingParameter', Success: false, Fields: [{ Field: name, Message: 'is required' }] });
        expect((await calls()).length).toBe(before);
      }
    });
    it('all required given → passed to CAMS as given', async () => {
      const params = requiredParams(route);
      const { cams } = await sendAndCapture(route, params);
      expect(cams.Params).toEqual(params);
    });
  }

  if (optional.length > 0) {
    const omitted = (name: string) => (route.optional[name]!.omitted ?? route.optional[name]!.context)();
    it.each(optional)('optional %s omitted → CAMS called without it', async (name) => {
      const params = omitted(name);
      const { cams } = await sendAndCapture(route, params);
      expect(cams.Params).toEqual(params);
      expect(cams.Params).not.toHaveProperty(name);
    });
    it.each(optional)('optional %s given empty → CAMS called without it', async (name) => {
      const params = omitted(name);
      const { cams } = await sendAndCapture(route, { ...params, [name]: '' });
      expect(cams.Params).toEqual(params);
    });
    it.each(optional)('optional %s given → passed to CAMS as given', async (name) => {
      const params = { ...route.optional[name]!.context(), [name]: route.optional[name]!.value() };
      const { reply, cams } = await sendAndCapture(route, params);
      expect(cams.Params).toEqual(params);
      expect(reply.status).toBe(200);
    });
  }

  it('a parameter the operation does not take → 400 InvalidParameter naming it, CAMS not called', async () => {
    const before = (await calls()).length;
    const res = await send(route, { ...requiredParams(route), Unknown: '1' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ Code: 'InvalidParameter', Fields: [{ Field: 'Unknown', Message: 'is not a parameter of this operation' }] });
    expect((await calls()).length).toBe(before);
  });
});

describe('GET /health-status: the params that name a node (documented, saves a certain CAMS refusal)', () => {
  it.each([
    [{ NodeType: 'phone' }, 'PhoneNumber'],
    [{ NodeType: 'template', Language: 'en' }, 'TemplateCode'],
    [{ NodeType: 'template', TemplateCode: TEMPLATE }, 'Language'],
  ])('%j without %s → 400 MissingParameter naming it, CAMS not called', async (params, name) => {
    const before = (await calls()).length;
    const res = await callRoute(host.url, { method: 'GET', path: '/health-status', query: { CustSpaceId: space, ...params } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ Code: 'MissingParameter', Fields: [{ Field: name, Message: `is required when NodeType is ${params.NodeType}` }] });
    expect((await calls()).length).toBe(before);
  });
});

describe('a JSON null is no value, as the official SDK sends it (it leaves a null param out of the request)', () => {
  it('required WabaId: null → 400 MissingParameter naming it, CAMS not called', async () => {
    const before = (await calls()).length;
    const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: null } });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ Code: 'MissingParameter', Fields: [{ Field: 'WabaId', Message: 'is required' }] });
    expect((await calls()).length).toBe(before);
  });
  it('optional PreValidateId: null → CAMS called without it', async () => {
    const params = { CustSpaceId: space, Cc: CC, PhoneNumber: '13800000066', VerifiedName: 'Alibaba' };
    const before = (await calls()).length;
    const res = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { ...params, PreValidateId: null } });
    expect(res.status).toBe(200);
    expect((await calls()).slice(before).map((c) => c.Params)).toEqual([params]);
  });
});

describe('an id sent as a JSON number: taken while exact, else refused saying why', () => {
  it('a whole number JSON holds exactly → CAMS gets its digits; too large, negative or fractional → 400 saying what is wrong, CAMS not called', async () => {
    const before = (await calls()).length;
    expect((await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: Number(WABA) } })).status).toBe(200);
    expect((await calls()).slice(before).map((c) => c.Params)).toEqual([{ WabaId: WABA }]);
    const cases: Array<[number, string]> = [
      [Number('12345678901234567'), 'is a number too large to be exact: send it as a string'],
      [-1, 'is a negative or fractional number: send the value as a string'],
      [2.5, 'is a negative or fractional number: send the value as a string'],
    ];
    for (const [WabaId, Message] of cases) {
      const res = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId } });
      expect([WabaId, res.status, res.json.Fields]).toEqual([WabaId, 400, [{ Field: 'WabaId', Message }]]);
    }
    expect((await calls()).length).toBe(before + 1);
  });
});
