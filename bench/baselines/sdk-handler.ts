/**
 * function-cold-start baseline: the least an HTTP function for these routes can be when built on
 * the official SDK (`@alicloud/openapi-client` generic callApi, ACS3, RPC, formData). It parses the
 * FC event, maps the route to its CAMS action, checks nothing (no caller signature, no validation,
 * no envelope, no log line), calls CAMS and returns CAMS's reply. The benchmark compiles this file
 * with `@alicloud/*` left external, so the SDK is required from node_modules as published, as the
 * issue measures it (an application using the SDK); it is not bundled and has no code cache.
 */
import * as $OpenApi from '@alicloud/openapi-client';

// The package is CommonJS with exports.default (the client class); how that surfaces depends on
// the loader (esbuild in an ESM package gives the whole module.exports as `default`), so unwrap
// until `default` is the class.
type SdkModule = typeof $OpenApi.default;
type SdkClient = InstanceType<SdkModule['default']>;
type Runtime = Parameters<SdkClient['callApi']>[2];

function unwrap(mod: unknown): SdkModule {
  let m = mod as { default?: unknown };
  while (m && typeof m.default !== 'function') m = m.default as { default?: unknown };
  return m as SdkModule;
}
const sdk = unwrap($OpenApi);

const ACTIONS: Record<string, string> = {
  'POST /waba/bind': 'ChatappBindWaba',
  'GET /waba': 'QueryChatappBindWaba',
  'POST /phone-numbers': 'AddChatappPhoneNumber',
  'GET /health-status': 'GetWhatsappHealthStatus',
};

interface FcEvent {
  rawPath?: string;
  path?: string;
  httpMethod?: string;
  requestContext?: { http?: { method?: string } };
  queryParameters?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

let client: SdkClient | undefined;

function sdkClient(): SdkClient {
  if (client) return client;
  const endpoint = new URL(process.env['CAMS_ENDPOINT'] || 'https://cams.ap-southeast-1.aliyuncs.com');
  client = new sdk.default(
    new sdk.Config({
      accessKeyId: process.env['ALIBABA_CLOUD_ACCESS_KEY_ID'],
      accessKeySecret: process.env['ALIBABA_CLOUD_ACCESS_KEY_SECRET'],
      endpoint: endpoint.host,
      protocol: endpoint.protocol === 'https:' ? 'HTTPS' : 'HTTP',
    }),
  );
  return client;
}

export async function handler(event: Buffer, _context: unknown): Promise<{ statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: false }> {
  const e = JSON.parse(event.toString('utf8')) as FcEvent;
  const method = e.requestContext?.http?.method ?? e.httpMethod ?? 'GET';
  const action = ACTIONS[`${method} ${e.rawPath ?? e.path}`];
  if (!action) return { statusCode: 404, headers: {}, body: '{"Code":"NotFound"}', isBase64Encoded: false };
  const rawBody = e.body ? (e.isBase64Encoded ? Buffer.from(e.body, 'base64').toString('utf8') : e.body) : '';
  const params = { ...e.queryParameters, ...(rawBody ? (JSON.parse(rawBody) as Record<string, string>) : {}) };
  const res = await sdkClient().callApi(
    new sdk.Params({
      action,
      version: '2020-06-06',
      protocol: 'HTTP',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    }),
    new sdk.OpenApiRequest({ body: params }),
    {} as Runtime,
  );
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(res['body']),
    isBase64Encoded: false,
  };
}
