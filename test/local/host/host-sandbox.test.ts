/** The CAMS the local host's functions call (local/host/host-sandbox.ts), with a real sandbox on loopback. */
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostPlan } from '../../../local/host/host-config.ts';
import { hostCams } from '../../../local/host/host-sandbox.ts';

const plan = (over: Partial<HostPlan> = {}) => ({ storeUrl: 'memory:', config: { stage: 'dev' }, envCredentials: { accessKeyId: 'env-id', accessKeySecret: 'env-secret' }, ...over }) as HostPlan;
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

describe('hostCams', () => {
  it('a configured CAMS_ENDPOINT: that endpoint and the environment credentials, no sandbox', async () => {
    const cams = await hostCams(plan({ configuredCams: 'https://cams.ap-southeast-1.aliyuncs.com' }), undefined, () => {});
    expect(cams).toEqual({ endpoint: 'https://cams.ap-southeast-1.aliyuncs.com', credentials: { accessKeyId: 'env-id', accessKeySecret: 'env-secret' } });
  });

  it('none: a sandbox on loopback, its first key as the credentials', async () => {
    const lines: string[] = [];
    const cams = await hostCams(plan(), { port: 0, keys: [{ accessKeyId: 'sb-id', accessKeySecret: 'sb-secret' }, { accessKeyId: 'other', accessKeySecret: 'x' }] }, (l) => lines.push(l));
    closers.push(() => cams.sandbox!.close());
    expect(cams.endpoint).toBe(cams.sandbox!.url);
    expect(cams.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(cams.credentials).toEqual({ accessKeyId: 'sb-id', accessKeySecret: 'sb-secret' });
    const res = await fetch(cams.endpoint, { method: 'POST' });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });

  it('a sandbox port in use: an error naming the address and what to set', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => busy.close(resolve)));
    const port = (busy.address() as { port: number }).port;
    await expect(hostCams(plan(), { port }, () => {})).rejects.toThrow(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} .*set CAMS_SANDBOX_PORT \\(0: any free port\\), or CAMS_ENDPOINT`));
  });
});
