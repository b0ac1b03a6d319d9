import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import type { OnboardingDeps } from '../../../shared/onboarding/onboard.ts';
import { sandboxControl } from '../../support/sandbox-env.ts';

export interface CallRow {
  Action: string;
  Code: string;
  HttpStatus: number;
  Params: Record<string, string>;
}

export async function camsCalls(sandbox: RunningSandbox): Promise<CallRow[]> {
  return (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as CallRow[];
}

/** Successful CAMS calls of one action (an OK reply: the sandbox applied the write). */
export async function okCalls(sandbox: RunningSandbox, action: string): Promise<CallRow[]> {
  return (await camsCalls(sandbox)).filter((c) => c.Action === action && c.Code === 'OK');
}

/** OnboardingDeps as the onboarding function builds them: no sinks, its failure alerts are only recorded. */
export function onboardingDeps(d: OnboardingDeps): OnboardingDeps {
  return d;
}

/**
 * Makes every CAMS reply slower than the client waits (the sandbox still applies the write when the
 * client has gone), until the sandbox has applied one `action`: then the latency goes, so a later
 * attempt gets a prompt answer. Returns a stop function.
 */
export function latencyUntilApplied(sandbox: RunningSandbox, action: string, latencyMs: number): { armed: Promise<void>; stop: () => void } {
  let stopped = false;
  const armed = sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { latencyMs }).then(() => undefined);
  void (async () => {
    await armed;
    while (!stopped) {
      if ((await okCalls(sandbox, action)).length > 0) {
        await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return { armed, stop: () => (stopped = true) };
}

/** What a front between us and CAMS answers instead of CAMS's reply; undefined passes it on. */
export type ReplyRewrite = (action: string, reply: { status: number; body: string }) => { status: number; body: string; contentType?: string; delayMs?: number } | undefined;

/**
 * A front (a proxy, a gateway) on loopback between the client and the sandbox: every request reaches
 * the sandbox as sent (its signature still verifies), and `rewrite` may replace the sandbox's reply.
 */
export async function frontOf(sandbox: RunningSandbox, rewrite: ReplyRewrite): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(sandbox.url);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
        const body: Buffer[] = [];
        up.on('data', (c: Buffer) => body.push(c));
        up.on('end', () => {
          const action = String(req.headers['x-acs-action'] ?? '');
          const given = { status: up.statusCode ?? 502, body: Buffer.concat(body).toString('utf8') };
          const sent = rewrite(action, given);
          setTimeout(() => {
            res.writeHead(sent?.status ?? given.status, { 'content-type': sent?.contentType ?? String(up.headers['content-type'] ?? 'application/json') });
            res.end(sent?.body ?? given.body);
          }, sent?.delayMs ?? 0);
        });
      });
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }) };
}
