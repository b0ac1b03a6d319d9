import * as z from '../../../shared/validation/schema.ts';
import { describe, expect, it } from 'vitest';
import { signRouteRequest } from '../../../local/client/route-request.ts';
import { CamsError, camsErrorFromBody } from '../../../shared/cams/errors.ts';
import { httpFunction } from '../../../shared/http-fn/http-function.ts';
import { HttpError } from '../../../shared/http-fn/errors.ts';
import { redactSecrets } from '../../../shared/log/log.ts';
import { camsErrorStatus } from '../../../shared/http-fn/reply.ts';
import { fcContext, httpEvent, parseReply } from '../../support/events.ts';

const KEY = { accessKeyId: 'log-test-key', accessKeySecret: 'log-test-secret-value' };
const env = { API_KEYS: `${KEY.accessKeyId}:${KEY.accessKeySecret}`, ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAIx', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'cams-secret-value' };

function fn(service: () => Promise<{ data?: unknown }>, lines: string[], envOverride: Record<string, string> = env) {
  return httpFunction({
    name: 'probe',
    routes: [{ method: 'POST', path: '/probe/{id}' }],
    schema: z.looseObject({ id: z.string(), Token: z.optional(z.string()) }),
    service,
    env: envOverride,
    write: (l) => lines.push(l),
  });
}

function event(body: unknown, path = '/probe/abc') {
  return httpEvent(signRouteRequest({ method: 'POST', path, body }, 'h.example', KEY), 'fc-http');
}

describe('the shared HTTP function stack', () => {
  it('writes exactly one JSON log line per invocation with the fields operators need, and no secret', async () => {
    const lines: string[] = [];
    const handler = fn(async () => ({ data: { ok: 1 } }), lines);
    const res = parseReply(await handler(event({ Token: 'tok-should-not-leak' }), fcContext() as never));
    expect(res.statusCode).toBe(200);
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]!);
    expect(record).toMatchObject({ level: 'info', function: 'probe', requestId: fcContext()['requestId'], route: 'POST /probe/{id}', status: 200, code: 'OK', caller: KEY.accessKeyId });
    expect(typeof record.durationMs).toBe('number');
    for (const secret of [KEY.accessKeySecret, 'cams-secret-value', 'tok-should-not-leak', 'Signature=']) expect(lines[0]).not.toContain(secret);
  });

  it('passes path parameters to the schema and the service', async () => {
    let seen: unknown;
    const handler = httpFunction({
      name: 'probe',
      routes: [{ method: 'POST', path: '/probe/{id}' }],
      schema: z.looseObject({ id: z.string() }),
      service: async (input) => {
        seen = input.params;
        return {};
      },
      env,
      write: () => {},
    });
    expect((await handler(event(undefined, '/probe/x%20y'), fcContext() as never)).statusCode).toBe(200);
    expect(seen).toEqual({ id: 'x y' });
  });

  it('matches routes segment by segment: one trailing slash, non-empty parameters, 404 off every route, 405 with Allow', async () => {
    const seen: unknown[] = [];
    const handler = httpFunction({
      name: 'things',
      routes: [
        { method: 'GET', path: '/things' },
        { method: 'POST', path: '/things' },
        { method: 'GET', path: '/things/{id}' },
        { method: 'DELETE', path: '/things/{id}/tags/{tag_2}' },
      ],
      schema: z.looseObject({}),
      service: async (input) => {
        seen.push({ route: input.route, params: input.params });
        return {};
      },
      env,
      write: () => {},
    });
    const call = async (method: string, path: string) => {
      seen.length = 0;
      const res = parseReply(await handler(httpEvent(signRouteRequest({ method, path, ...(method === 'POST' ? { body: {} } : {}) }, 'h.example', KEY), 'fc-http'), fcContext() as never));
      return { status: res.statusCode, code: (res.body as { Code?: string }).Code, allow: res.headers['allow'], seen: seen[0] };
    };
    expect(await call('GET', '/things')).toMatchObject({ status: 200, seen: { route: 'GET /things', params: {} } });
    expect(await call('POST', '/things/')).toMatchObject({ status: 200, seen: { route: 'POST /things' } });
    expect(await call('GET', '/things/abc')).toMatchObject({ status: 200, seen: { route: 'GET /things/{id}', params: { id: 'abc' } } });
    expect(await call('GET', '/things/abc/')).toMatchObject({ status: 200, seen: { params: { id: 'abc' } } });
    expect(await call('DELETE', '/things/a/tags/b')).toMatchObject({ status: 200, seen: { route: 'DELETE /things/{id}/tags/{tag_2}', params: { id: 'a', tag_2: 'b' } } });
    for (const path of ['/things//', '/things//tags/b', '/things/abc/extra', '/Things', '/nothing', '/', '/things/a/tags/']) {
      expect(await call('GET', path), path).toMatchObject({ status: 404, code: 'NotFound', seen: undefined });
    }
    expect(await call('PUT', '/things')).toMatchObject({ status: 405, code: 'MethodNotAllowed', allow: 'GET, POST, HEAD', seen: undefined });
    expect(await call('POST', '/things/abc')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    const head = await handler(httpEvent(signRouteRequest({ method: 'HEAD', path: '/things/a/tags/b' }, 'h.example', KEY), 'fc-http'), fcContext() as never);
    expect(head).toMatchObject({ statusCode: 405, headers: { allow: 'DELETE' }, body: '' });
  });

  it('a path that is not valid URL encoding is 400 naming the route parameter whose segment it is, else (path), before the signature is checked', async () => {
    const handler = httpFunction({
      name: 'things',
      routes: [
        { method: 'GET', path: '/things/{id}' },
        { method: 'DELETE', path: '/things/{id}/tags/{tag_2}' },
      ],
      schema: z.looseObject({}),
      service: async () => ({}),
      env,
      write: () => {},
    });
    const call = async (method: string, path: string) => parseReply(await handler(httpEvent(signRouteRequest({ method, path }, 'h.example', KEY), 'fc-http'), fcContext() as never));
    const refused = (field: string) => ({ statusCode: 400, body: { Code: 'InvalidParameter', Message: expect.stringContaining(`${field}: is not valid URL encoding`), Fields: [{ Field: field, Message: expect.stringContaining('UTF-8') }] } });
    // Latin-1 `é` (not UTF-8), a `%` with no hex after it, and one segment bad among good ones.
    expect(await call('GET', '/things/Caf%E9')).toMatchObject(refused('id'));
    expect(await call('GET', '/things/100%/')).toMatchObject(refused('id'));
    expect(await call('DELETE', '/things/a%C3%A9/tags/%zz')).toMatchObject(refused('tag_2'));
    // On no route: the path is what is wrong.
    expect(await call('GET', '/th%E9ngs/x')).toMatchObject(refused('(path)'));
    expect(await call('GET', '/things/%E9/more')).toMatchObject(refused('(path)'));
    // Control: the same segments as UTF-8 escapes reach the service.
    expect((await call('GET', '/things/Caf%C3%A9')).statusCode).toBe(200);
  });

  it('splits the path before decoding it: a %2F is part of its segment, a parameter\'s value or a literal that does not match (404)', async () => {
    const seen: unknown[] = [];
    const handler = httpFunction({
      name: 'things',
      routes: [
        { method: 'GET', path: '/things' },
        { method: 'GET', path: '/things/{id}' },
      ],
      schema: z.looseObject({}),
      service: async (input) => {
        seen.push(input.params);
        return {};
      },
      env,
      write: () => {},
    });
    const call = async (path: string) => {
      seen.length = 0;
      const res = parseReply(await handler(httpEvent(signRouteRequest({ method: 'GET', path }, 'h.example', KEY), 'fc-http'), fcContext() as never));
      return { status: res.statusCode, code: res.body.Code, message: res.body.Message, seen: seen[0] };
    };
    // Decoded whole, /things/a%2Fb was /things/a/b: no route (404) for the id a/b.
    expect(await call('/things/a%2Fb')).toMatchObject({ status: 200, seen: { id: 'a/b' } });
    expect(await call('/things/a%2f')).toMatchObject({ status: 200, seen: { id: 'a/' } });
    // A literal segment holding an escaped slash is not the literal (nor the route's trailing slash).
    expect(await call('/things%2F')).toMatchObject({ status: 404, code: 'NotFound', message: 'no route for /things%2F', seen: undefined });
    expect(await call('/things%2Fabc')).toMatchObject({ status: 404, code: 'NotFound', seen: undefined });
    // Any other escape of a literal still matches it, as on the local host.
    expect(await call('/th%69ngs/%61bc')).toMatchObject({ status: 200, seen: { id: 'abc' } });
  });

  it('answers HEAD as its GET route, signed as HEAD, with the same status and headers and no body', async () => {
    const handler = httpFunction({
      name: 'things',
      routes: [{ method: 'GET', path: '/things/{id}' }],
      schema: z.looseObject({}),
      service: async (input) => {
        if (input.params['fail'] === '1') throw new HttpError(400, 'InvalidParameter', 'fail is set');
        return { data: { Id: input.http.pathParameters['id'] } };
      },
      env,
      write: () => {},
    });
    const send = async (method: string, query: Record<string, string> = {}) =>
      handler(httpEvent(signRouteRequest({ method, path: '/things/abc', query }, 'h.example', KEY), 'fc-http'), fcContext() as never);
    const get = await send('GET');
    const head = await send('HEAD');
    expect(get.statusCode).toBe(200);
    expect(JSON.parse(get.body)).toMatchObject({ Data: { Id: 'abc' } });
    expect(head).toMatchObject({ statusCode: 200, body: '' });
    expect(head.headers['content-type']).toBe(get.headers['content-type']);
    const failed = await send('HEAD', { fail: '1' });
    expect(failed).toMatchObject({ statusCode: 400, body: '' });
    // The signature covers the method: a GET's signature does not pass for a HEAD.
    const signedGet = signRouteRequest({ method: 'GET', path: '/things/abc' }, 'h.example', KEY);
    const replayed = await handler(httpEvent({ ...signedGet, method: 'HEAD' }, 'fc-http'), fcContext() as never);
    expect(replayed.statusCode).toBe(403);
  });

  it("logs CAMS's AccessDeniedDetail at warn level (the function's role is refused) and keeps it from the caller", async () => {
    const detail = '{"AuthAction":"cams:ChatappBindWaba","AuthPrincipalType":"AssumedRoleUser","NoPermissionType":"ImplicitDeny","PolicyType":"AccountLevelIdentityBasedPolicy"}';
    const lines: string[] = [];
    const refused = fn(async () => {
      throw camsErrorFromBody(400, { Code: 'Ram.PermissionDeny', Message: 'You are not authorized to perform the operation.', RequestId: 'R-1', AccessDeniedDetail: detail }, 'ChatappBindWaba');
    }, lines);
    const res = parseReply(await refused(event({}), fcContext() as never));
    expect(res).toMatchObject({ statusCode: 403, body: { Code: 'Ram.PermissionDeny', CamsRequestId: 'R-1' } });
    expect(JSON.stringify(res.body)).not.toContain('AuthAction');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', status: 403, camsCode: 'Ram.PermissionDeny', accessDeniedDetail: detail });
    // The seed pages' refusals carry no AccessDeniedDetail (the sandbox's `denials` too): still the operator's to fix.
    for (const Code of ['Ram.PermissionDeny', 'Product.Unsubscript']) {
      lines.length = 0;
      const bare = fn(async () => {
        throw camsErrorFromBody(400, { Code, Message: 'refused', RequestId: 'R-2' }, 'ChatappBindWaba');
      }, lines);
      expect((await bare(event({}), fcContext() as never)).statusCode).toBe(403);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', status: 403, camsCode: Code });
      expect(JSON.parse(lines[0]!)).not.toHaveProperty('accessDeniedDetail');
    }
    // "None", CAMS's value on every reply RAM allowed, is no detail.
    lines.length = 0;
    const other = fn(async () => {
      throw camsErrorFromBody(400, { Code: 'InvalidParameter', Message: 'bad', AccessDeniedDetail: 'None' });
    }, lines);
    expect((await other(event({}), fcContext() as never)).statusCode).toBe(400);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info' });
    expect(JSON.parse(lines[0]!)).not.toHaveProperty('accessDeniedDetail');
  });

  it('logs an AccessDeniedDetail CAMS sent as an object (newer gateways) as sent, at warn level, and keeps it from the caller', async () => {
    const detail = {
      AuthAction: 'cams:AddChatappPhoneNumber',
      AuthPrincipalType: 'AssumedRoleUser',
      NoPermissionType: 'ImplicitDeny',
      PolicyType: 'AccountLevelIdentityBasedPolicy',
      EncodedDiagnosticMessage: 'AQEAAAAAZBgxr0U1MjA1NTM1LUM4BBktMzE5RS1CODgxLUU1QTI0RDNFQTM1****',
    };
    const lines: string[] = [];
    const refused = fn(async () => {
      throw camsErrorFromBody(400, { Code: 'Ram.PermissionDeny', Message: 'You are not authorized to perform the operation.', RequestId: 'R-2', AccessDeniedDetail: detail }, 'AddChatappPhoneNumber');
    }, lines);
    const res = parseReply(await refused(event({}), fcContext() as never));
    expect(res).toMatchObject({ statusCode: 403, body: { Code: 'Ram.PermissionDeny', CamsRequestId: 'R-2' } });
    expect(JSON.stringify(res.body)).not.toContain('EncodedDiagnosticMessage');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'warn', camsCode: 'Ram.PermissionDeny', accessDeniedDetail: detail });
  });

  it('turns an unexpected error into a 500 envelope without its message, and logs it at error level', async () => {
    const lines: string[] = [];
    const handler = fn(async () => {
      throw new TypeError('boom at internal detail');
    }, lines);
    const res = parseReply(await handler(event({}), fcContext() as never));
    expect(res.statusCode).toBe(500);
    expect(res.body).toMatchObject({ Code: 'InternalError', Success: false });
    expect(res.body.Message).not.toContain('boom');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', status: 500, error: { name: 'TypeError', message: 'boom at internal detail' } });
  });

  it('answers 500 ServiceMisconfigured when API_KEYS is bad, naming the variable in the log only', async () => {
    const lines: string[] = [];
    const handler = fn(async () => ({}), lines, { API_KEYS: 'no-colon-here' });
    const res = parseReply(await handler(event({}), fcContext() as never));
    expect(res.statusCode).toBe(500);
    expect(res.body.Code).toBe('ServiceMisconfigured');
    expect(res.body.Message).not.toContain('API_KEYS');
    expect(lines[0]).toContain('API_KEYS');
  });

  it('a STORE_URL the store refuses (a database path that is not a number) is 500 ServiceMisconfigured naming it in the log, not a per-instance replay check', async () => {
    const lines: string[] = [];
    let called = 0;
    const handler = fn(async () => (called++, { data: {} }), lines, { ...env, STORE_URL: 'redis://:pw-not-shown@127.0.0.1:6379/abc' });
    const res = parseReply(await handler(event({}), fcContext() as never));
    expect(res.statusCode).toBe(500);
    expect(res.body.Code).toBe('ServiceMisconfigured');
    expect(called).toBe(0);
    expect(lines.join('\n')).toContain('STORE_URL');
    expect(lines.join('\n')).toContain('database number');
    expect(lines.join('\n')).not.toContain('pw-not-shown');
  });

  it('honours LOG_LEVEL', async () => {
    const lines: string[] = [];
    process.env['LOG_LEVEL'] = 'warn';
    try {
      await fn(async () => ({}), lines)(event({}), fcContext() as never);
    } finally {
      delete process.env['LOG_LEVEL'];
    }
    expect(lines).toEqual([]);
  });
});

describe('status mapping of CAMS errors', () => {
  const err = (Code: string, httpStatus = 400) => new CamsError({ Code, Message: 'm', httpStatus, retryable: false });
  it.each([
    ['System.LimitControl', 429],
    ['Throttling.User', 429],
    ['Ram.PermissionDeny', 403],
    ['Product.Unsubscript', 403],
    ['Forbidden.RAM', 403],
    // RAM refusing the role, as isPermissionRefusal reads it (phone-exists): not the caller's bad request.
    ['NoPermission', 403, 403],
    ['NotAuthorized', 403, 403],
    ['Forbidden.NoPermission', 403, 403],
    // A disabled key is the function's own credentials refused (as the monitor's advice reads it), not a missing grant.
    ['Forbidden.AccessKeyDisabled', 500, 403],
    ['Unknown.ResourceOwnerId', 404],
    ['RequestTimeout', 504],
    ['DeadlineExceeded', 504],
    ['Phone.Exists', 409],
    ['InvalidParameter', 400],
    ['InternalError', 502, 500],
    ['NetworkError', 502, 0],
    ['InvalidAccessKeyId.NotFound', 500, 404],
    ['InvalidSecurityToken.Malformed', 500],
    // The role's token ran out during the invocation: the next one has a fresh token.
    ['InvalidSecurityToken.Expired', 503],
  ])('%s → %i', (code, status, httpStatus = 400) => {
    expect(camsErrorStatus(err(code, httpStatus))).toBe(status);
  });
});

describe('redactSecrets', () => {
  it('replaces secret-looking fields at any depth', () => {
    expect(redactSecrets({ a: 1, accessKeySecret: 's', nested: [{ Authorization: 'x', securityToken: 't', sign: 'y', fine: 'ok' }] })).toEqual({
      a: 1,
      accessKeySecret: '[redacted]',
      nested: [{ Authorization: '[redacted]', securityToken: '[redacted]', sign: '[redacted]', fine: 'ok' }],
    });
  });
});
