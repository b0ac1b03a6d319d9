import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { handler as addPhoneNumber } from '../../../functions/add-phone-number/handler.ts';
import { sandboxClient } from '../../support/monitor.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { camsCalls, frontOf, okCalls, type ReplyRewrite } from '../../shared/onboarding/support.ts';

// The function reads CAMS_ENDPOINT once per instance: it is pointed at a front for the whole file,
// and each test says what the front does.
let sandbox: RunningSandbox;
let front: { url: string; close: () => Promise<void> };
let rewrite: ReplyRewrite = () => undefined;
beforeAll(async () => {
  sandbox = await sandboxForFunctions();
  front = await frontOf(sandbox, (action, reply) => rewrite(action, reply));
  process.env['CAMS_ENDPOINT'] = front.url;
});
afterAll(async () => {
  await front?.close();
  await sandbox?.close();
});
beforeEach(async () => {
  rewrite = () => undefined;
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
});

const unavailable = { status: 503, body: JSON.stringify({ RequestId: 'R-503', Code: 'ServiceUnavailable', Message: 'The request has failed due to a temporary failure of the server.' }) };
const listingRefused = { status: 403, body: JSON.stringify({ RequestId: 'R-403', Code: 'Forbidden.RAM', Message: 'not authorized' }) };

/** The front answers the first add as `first` says (whatever the sandbox did with it), the rest as `also`. */
function firstAdd(first: (reply: { status: number; body: string }) => ReturnType<ReplyRewrite>, also: ReplyRewrite = () => undefined): ReplyRewrite {
  let done = false;
  return (action, reply) => {
    if (action === 'AddChatappPhoneNumber' && !done) return ((done = true), first(reply));
    return also(action, reply);
  };
}

let n = 0;
async function post(body: Record<string, string>) {
  const signed = signRouteRequest({ method: 'POST', path: '/phone-numbers', body }, 'h', CALLER_KEY, { nonce: `phone-exists-${process.pid}-${n++}` });
  return parseReply(await addPhoneNumber(httpEvent(signed, 'fc-http'), fcContext({ function: { name: 'add-phone-number', timeout: 40 } }) as never));
}

/** The lines the function writes to stdout while `run` runs. */
async function logged(run: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(...String(chunk).split('\n').filter(Boolean)), true)) as typeof process.stdout.write;
  try {
    await run();
  } finally {
    process.stdout.write = write;
  }
  return lines;
}

/** A space of ours, and the number taken by another account's space. */
async function othersNumber(WabaId: string) {
  const other = sandboxClient(sandbox, 5, DEFAULT_SANDBOX_KEYS[1]!);
  const theirs = await other.bindWaba({ WabaId: '3200000000099' });
  await other.addPhoneNumber({ CustSpaceId: theirs.data.CustSpaceId, Cc: '65', PhoneNumber: '92000002', VerifiedName: 'Other Shop' });
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId });
  return { CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000002', VerifiedName: 'Acme Shop' };
}

it('503 on an add CAMS applied, then Phone.Exists in the same call, the number in the space: 200 with CAMS\'s success body', async () => {
  rewrite = firstAdd(() => unavailable);
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId: '3200000000010' });
  const res = await post({ CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000010', VerifiedName: 'Acme Shop' });
  expect(res.statusCode).toBe(200);
  expect(res.body).toMatchObject({ Code: 'OK', Success: true, Message: 'None' });
  expect(res.body).not.toHaveProperty('Data');
  expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);
});

it('the same, CAMS\'s Phone.Exists without a RequestId: our 200 has no CamsRequestId (not an empty one); with one, it is quoted', async () => {
  const withoutRequestId: ReplyRewrite = (action, reply) => {
    if (action !== 'AddChatappPhoneNumber') return undefined;
    const { RequestId: _, ...rest } = JSON.parse(reply.body) as Record<string, unknown>;
    return { ...reply, body: JSON.stringify(rest) };
  };
  rewrite = firstAdd(() => unavailable, withoutRequestId);
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId: '3200000000017' });
  const res = await post({ CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000017', VerifiedName: 'Acme Shop' });
  expect(res.statusCode).toBe(200);
  expect(res.body).toMatchObject({ Code: 'OK', Success: true });
  expect(res.body).not.toHaveProperty('CamsRequestId');
  // CAMS's RequestId, when its Phone.Exists gives one, is quoted as before.
  rewrite = firstAdd(() => unavailable);
  const again = await post({ CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000018', VerifiedName: 'Acme Shop' });
  expect(again.statusCode).toBe(200);
  expect(again.body['CamsRequestId']).toEqual(expect.stringMatching(/\S/));
});

it('503 on an add CAMS refused (someone else\'s number), then Phone.Exists: CAMS\'s 409 Phone.Exists relayed, not 200', async () => {
  const body = await othersNumber('3200000000011');
  rewrite = firstAdd(() => unavailable);
  const res = await post(body);
  expect(res.statusCode).toBe(409);
  expect(res.body).toMatchObject({ Code: 'Phone.Exists', Success: false });
  // The space's own list was asked, and said the number is not in it.
  expect((await camsCalls(sandbox)).filter((c) => c.Action === 'QueryChatappPhoneNumbers').map((c) => c.Params['CustSpaceId'])).toEqual([body.CustSpaceId]);
});

it('a timed-out add CAMS refused (someone else\'s number), then Phone.Exists: 409 Phone.Exists, not 200', async () => {
  const body = await othersNumber('3200000000012');
  // Above the client's 5 s per-attempt timeout: the first add's answer never arrives in time.
  rewrite = firstAdd((reply) => ({ ...reply, delayMs: 5_600 }));
  const res = await post(body);
  expect(res.statusCode).toBe(409);
  expect(res.body).toMatchObject({ Code: 'Phone.Exists', Success: false });
}, 30_000);

it('a role that cannot list the space: an attempt that may have been applied is all there is to go by (200); CAMS\'s first answer is relayed as it is (409)', async () => {
  const refusing: ReplyRewrite = (action) => (action === 'QueryChatappPhoneNumbers' ? listingRefused : undefined);
  rewrite = firstAdd(() => unavailable, refusing);
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId: '3200000000013' });
  const body = { CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000013', VerifiedName: 'Acme Shop' };
  const lines = await logged(async () => expect((await post(body)).statusCode).toBe(200));
  // The caller is answered; the operator is told the role cannot list, on the invocation's one log line.
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['function'] === 'add-phone-number');
  expect(line).toMatchObject({ level: 'warn', status: 200, warning: { code: 'Forbidden.RAM' } });
  // Phone.Exists with nothing of ours in between: the caller's conflict, relayed without a listing.
  rewrite = refusing;
  const again = await post(body);
  expect(again.statusCode).toBe(409);
  expect(again.body.Code).toBe('Phone.Exists');
  expect((await camsCalls(sandbox)).filter((c) => c.Action === 'QueryChatappPhoneNumbers')).toHaveLength(1);
});

it('the listing failing for now (503 after its retries): the caller is told to try again (502), not told the number is someone else\'s', async () => {
  const body = await othersNumber('3200000000014');
  rewrite = firstAdd(() => unavailable, (action) => (action === 'QueryChatappPhoneNumbers' ? unavailable : undefined));
  const res = await post(body);
  expect(res.statusCode).toBe(502);
  expect(res.body.Code).toBe('ServiceUnavailable');
});

it('the listing answered 2xx with a body that cannot be read: it said nothing, so 502 InvalidResponse, not 200 for someone else\'s number', async () => {
  const body = await othersNumber('3200000000015');
  const page = { status: 200, body: '<html><body>Request accepted by the gateway</body></html>', contentType: 'text/html' };
  rewrite = firstAdd(() => unavailable, (action) => (action === 'QueryChatappPhoneNumbers' ? page : undefined));
  const res = await post(body);
  expect(res.statusCode).toBe(502);
  expect(res.body.Code).toBe('InvalidResponse');
});

it('the listing answered 4xx with a page that is not CAMS\'s envelope (a gateway\'s): it said nothing, so 502 HttpError, not 200 for someone else\'s number', async () => {
  const body = await othersNumber('3200000000016');
  const page = { status: 404, body: '<html><body>404 Not Found</body></html>', contentType: 'text/html' };
  rewrite = firstAdd(() => unavailable, (action) => (action === 'QueryChatappPhoneNumbers' ? page : undefined));
  const res = await post(body);
  expect(res.statusCode).toBe(502);
  expect(res.body.Code).toBe('HttpError');
});

it('the listing CAMS refused for another reason than the role\'s permission: CAMS\'s error relayed (400 InvalidParameter; 503 for the function\'s own expired token), not 200 for someone else\'s number', async () => {
  const refusals = [
    ['3200000000017', 'InvalidParameter', 400],
    ['3200000000018', 'InvalidSecurityToken.Expired', 503],
  ] as const;
  for (const [WabaId, Code, status] of refusals) {
    await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
    const body = await othersNumber(WabaId);
    const refused = { status: 400, body: JSON.stringify({ RequestId: 'R-400', Code, Message: 'refused' }) };
    rewrite = firstAdd(() => unavailable, (action) => (action === 'QueryChatappPhoneNumbers' ? refused : undefined));
    const res = await post(body);
    expect(res.statusCode).toBe(status);
    expect(res.body).toMatchObject({ Code, Success: false });
  }
});

it('the listing refused as the sandbox refuses a role without the permission (Ram.PermissionDeny): the attempt goes alone, 200, and the log line warns', async () => {
  await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { denials: [{ code: 'Ram.PermissionDeny', action: 'QueryChatappPhoneNumbers' }] });
  rewrite = firstAdd(() => unavailable);
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId: '3200000000019' });
  const body = { CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000019', VerifiedName: 'Acme Shop' };
  const lines = await logged(async () => expect((await post(body)).statusCode).toBe(200));
  const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((r) => r['function'] === 'add-phone-number');
  expect(line).toMatchObject({ level: 'warn', status: 200, warning: { code: 'Ram.PermissionDeny' } });
});
