import { afterAll, beforeAll, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { DEFAULT_SANDBOX_KEYS, type RunningSandbox } from '../../../local/sandbox/server.ts';
import { handler as bindWaba } from '../../../functions/bind-waba/handler.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';
import { CALLER_KEY, sandboxControl, sandboxForFunctions } from '../../support/sandbox-env.ts';

let sandbox: RunningSandbox;
beforeAll(async () => {
  sandbox = await sandboxForFunctions();
});
afterAll(async () => {
  await sandbox?.close();
});

let n = 0;
/** POST /waba/bind in an invocation whose context carries the role's STS credentials with `token`. */
async function bindAs(token: string) {
  const signed = signRouteRequest({ method: 'POST', path: '/waba/bind', body: { WabaId: '3800000000001' } }, 'h', CALLER_KEY, { nonce: `expired-token-${process.pid}-${n++}` });
  const credentials = { ...DEFAULT_SANDBOX_KEYS[0]!, securityToken: token };
  return parseReply(await bindWaba(httpEvent(signed, 'fc-http'), fcContext({ credentials }) as never));
}

it("the role's STS token expired during the invocation: 503 with Retry-After and CAMS's code, and the request sent again (a fresh token) succeeds", async () => {
  await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { expiredTokens: ['STS.ran-out'] });
  const refused = await bindAs('STS.ran-out');
  expect(refused.statusCode).toBe(503);
  expect(refused.headers['retry-after']).toBe('1');
  expect(refused.body).toMatchObject({ Code: 'InvalidSecurityToken.Expired', Success: false });
  expect(refused.body.Message).not.toContain('STS.ran-out');

  expect((await bindAs('STS.fresh')).statusCode).toBe(200);
});
