import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { callRoute } from './support.ts';

// STORE_URL unset: each stage keeps its records in <dataRoot>/<stage>/ (DESIGN.md), so
// `npm start -- --stage prod` never sees what the dev stage wrote.
const root = mkdtempSync(join(tmpdir(), 'cams-fc-stages-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function hostFor(stage: string): Promise<RunningHost> {
  return startHost({ port: 0, sandbox: { port: 0 }, timers: false, stage, dataRoot: root, env: {}, log: () => {}, functionOutput: () => {} });
}

const onboarding = { WabaId: '500000000000001', Cc: '86', PhoneNumber: '13800000501', VerifiedName: 'Acme Shop' };

describe('per-stage local data', () => {
  it('a record written under --stage dev is not visible under --stage prod, and is still there for dev', async () => {
    const dev = await hostFor('dev');
    let id: string;
    try {
      expect(dev.dataDir).toBe(join(root, 'dev'));
      expect(dev.storeUrl).toBe(`file:${join(root, 'dev')}`);
      for (const env of Object.values(dev.environments)) expect(env['STORE_URL']).toBe(`file:${join(root, 'dev')}`);
      const post = await callRoute(dev.url, { method: 'POST', path: '/onboardings', body: onboarding });
      expect(post.status).toBe(202);
      id = post.json.Data!['OnboardingId'] as string;
      expect((await callRoute(dev.url, { method: 'GET', path: `/onboardings/${id}` })).status).toBe(200);
    } finally {
      await dev.close();
    }
    expect(existsSync(join(root, 'dev'))).toBe(true);

    const prod = await hostFor('prod');
    try {
      expect(prod.serviceName).toBe('cams-fc-prod');
      expect(prod.dataDir).toBe(join(root, 'prod'));
      const got = await callRoute(prod.url, { method: 'GET', path: `/onboardings/${id}` });
      expect(got.status).toBe(404);
    } finally {
      await prod.close();
    }

    const devAgain = await hostFor('dev');
    try {
      const got = await callRoute(devAgain.url, { method: 'GET', path: `/onboardings/${id}` });
      expect(got.status).toBe(200);
      expect(got.json.Data).toMatchObject({ OnboardingId: id });
    } finally {
      await devAgain.close();
    }
  }, 120_000); // three host starts, each loading every function in its own worker
});
