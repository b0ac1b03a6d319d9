/** The start-up lines `npm start` prints: where things are, what is missing, how to try it. */
import { MNS_PREFIX } from './mns-queue.ts';
import { statusPageLine } from './status-page-banner.ts';
import { redactUrlCredentials } from '../../shared/log/redact.ts';
import type { RunningHost } from './running-host.ts';
import type { ServerlessConfig } from './serverless-config.ts';

export function banner(h: RunningHost, config: ServerlessConfig): string[] {
  const lines: string[] = [];
  lines.push(`cams-fc local host listening on ${h.url}  (service ${h.serviceName}, stage ${h.stage}, region ${h.region})`);
  for (const name of h.missing) {
    lines.push(`  not implemented: ${name} (functions/${name}/handler.ts does not exist); its routes answer 501 FunctionNotImplemented`);
  }
  for (const b of h.broken) lines.push(`  FAILED TO LOAD: ${b.name}: ${b.error}; its routes answer 500 FunctionLoadError`);
  lines.push('  routes:');
  const width = Math.max(0, ...h.routes.map((r) => `${r.method} ${r.path}`.length));
  for (const r of h.routes) {
    const state = r.implemented ? '' : h.missing.includes(r.functionName) ? '  (not implemented: 501)' : '  (failed to load: 500)';
    lines.push(`    ${`${r.method} ${r.path}`.padEnd(width)}  -> ${r.functionName}${state}`);
  }
  if (h.routes.length === 0) lines.push('    (none)');
  lines.push('  timers:');
  for (const t of h.timers) {
    const zone = t.timeZone && t.timeZone !== 'UTC' ? '' : ' (UTC)';
    const state = t.inactive ? `off: ${t.inactive}` : `next ${new Date(t.nextAt!).toISOString()}`;
    lines.push(`    ${t.triggerName}  "${t.cronExpression}"${zone} -> ${t.functionName}  [${state}]`);
  }
  if (h.timers.length === 0) lines.push('    (none)');
  const queues = config.functions.flatMap((f) => f.other.filter((o) => o.queueName).map((o) => `${h.url}${MNS_PREFIX}${o.queueName}/messages -> ${f.name}`));
  if (queues.length) lines.push(`  mns queues (POST a message body; delivered as the MNS trigger would): ${queues.join('; ')}`);
  const others = config.functions.flatMap((f) => f.other.filter((o) => !o.queueName).map((o) => `${o.summary} -> ${f.name}`));
  if (others.length) lines.push(`  not emulated (invoke these functions through the FC API instead): ${others.join('; ')}`);
  lines.push(`  functions run as FC ${h.fcVersion}.0 (HOST_FC_VERSION); FC invoke APIs:`);
  const usedBy = (v: string) => (h.fcVersion === v ? ', as onboarding-api sends it' : '');
  lines.push(`    FC 3.0: POST ${h.url}/2023-03-30/functions/{function}/invocations  (ACS3-signed${usedBy('3')})`);
  lines.push(`    FC 2.0: POST ${h.url}/2016-08-15/services/${h.serviceName}/functions/{function}/invocations  (@alicloud/fc2 with endpoint ${h.url}${usedBy('2')})`);
  lines.push('  functions: each in its own worker, with only its own serverless.yml environment');
  if (h.sandboxUrl) {
    lines.push(`  CAMS sandbox: ${h.sandboxUrl}  (CAMS_ENDPOINT unset; the functions call it as ${h.credentials.accessKeyId})`);
  } else {
    // The functions take the host's own credentials for it: without them every CAMS call is a 500
    // whose reason only the function's log line gives, so say it before the first call.
    const who = h.credentials.accessKeyId && h.credentials.accessKeySecret
      ? `the functions call it as ${h.credentials.accessKeyId}`
      : 'no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or every CAMS call answers 500 ServiceMisconfigured';
    lines.push(`  CAMS endpoint: ${redactUrlCredentials(h.camsEndpoint)}  (${who})`);
  }
  lines.push(`  store: ${redactUrlCredentials(h.storeUrl)}`);
  // The status page's URL, as that function's own environment configures it.
  const statusRoute = h.routes.find((r) => r.method === 'GET' && r.path === '/status');
  const statusPage = statusPageLine(h.url, h.routes, statusRoute ? (h.environments[statusRoute.functionName] ?? {}) : {});
  if (statusPage) lines.push(statusPage);
  if (h.storeUrl.startsWith('memory:')) lines.push('  note: memory: is per function here (each has its own worker, as each FC instance has its own memory); use file: to share state');
  if (h.usingDefaultApiKeys) {
    const k = h.apiKeys[0]!;
    lines.push(`  API_KEYS unset: callers sign with the default pair ${k.accessKeyId}:${k.accessKeySecret}`);
  } else {
    lines.push(`  API_KEYS: ${h.apiKeys.map((k) => k.accessKeyId).join(', ')}`);
  }
  const exposed = exposureNote(h.url, h.usingDefaultApiKeys);
  if (exposed) lines.push(exposed);
  const target = h.url === `http://127.0.0.1:9000` ? '' : `CAMS_FC_URL=${h.url} `;
  lines.push(`  try: ${target}npm run call -- POST /waba/bind '{"WabaId":"1234567890"}'`);
  return lines;
}

/**
 * A warning for a host other machines can reach: its queue routes, like MNS's own send API, stand in
 * for a service that checks credentials this host does not have.
 */
export function exposureNote(url: string, usingDefaultApiKeys: boolean): string | undefined {
  const { hostname } = new URL(url);
  if (hostname === 'localhost' || hostname === '[::1]' || hostname.startsWith('127.')) return undefined;
  const keys = usingDefaultApiKeys ? ', and the default API_KEYS pair above signs any call' : '';
  return `  note: reachable beyond this machine (HOST): the mns queue routes take messages without credentials, so anyone who can reach ${url} can push receipts and onboardings${keys}; keep HOST=127.0.0.1 unless others must reach it`;
}
