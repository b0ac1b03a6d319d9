import { afterAll, beforeAll, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { handler as addPhoneNumber } from '../../../functions/add-phone-number/handler.ts';
import { sandboxClient } from '../../support/monitor.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';
import { latencyUntilApplied, okCalls } from '../../shared/onboarding/support.ts';

let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await sandboxForFunctions();
});
afterAll(async () => sandbox?.close());

it('POST /phone-numbers: the first attempt times out but is applied, the retry meets Phone.Exists: 200, not 502', async () => {
  await sandboxControl(sandbox, 'POST', '/__sandbox/reset');
  const { data } = await sandboxClient(sandbox).bindWaba({ WabaId: '3200000000001' });
  // Above the client's 5 s per-attempt timeout; lifted once the sandbox has applied the add.
  const latency = latencyUntilApplied(sandbox, 'AddChatappPhoneNumber', 5_600);
  await latency.armed;
  const body = { CustSpaceId: data.CustSpaceId, Cc: '65', PhoneNumber: '92000001', VerifiedName: 'Acme Shop' };
  const signed = signRouteRequest({ method: 'POST', path: '/phone-numbers', body }, 'h', CALLER_KEY, { nonce: `ambiguous-add-${process.pid}` });
  const res = parseReply(await addPhoneNumber(httpEvent(signed, 'fc-http'), fcContext({ function: { name: 'add-phone-number', timeout: 40 } }) as never));
  latency.stop();
  expect(res.statusCode).toBe(200);
  // CAMS's success body for an add (no Data), as the lost attempt would have had it.
  expect(res.body).toMatchObject({ Code: 'OK', Success: true, Message: 'None' });
  expect(res.body).not.toHaveProperty('Data');
  expect(await okCalls(sandbox, 'AddChatappPhoneNumber')).toHaveLength(1);

  // Without a lost attempt, the same number again is the caller's conflict: 409 Phone.Exists.
  const again = signRouteRequest({ method: 'POST', path: '/phone-numbers', body }, 'h', CALLER_KEY, { nonce: `ambiguous-add-2-${process.pid}` });
  const conflict = parseReply(await addPhoneNumber(httpEvent(again, 'fc-http'), fcContext() as never));
  expect(conflict.statusCode).toBe(409);
  expect(conflict.body.Code).toBe('Phone.Exists');
}, 40_000);
