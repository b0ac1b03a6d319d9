// scripts/warm-up.ts: the build's warm-up requests must be ones the real functions answer 200 to, with
// nothing but the environment the warm-up gives them (as the code-cache process runs them).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startWarmUp, WARM_UP_REQUESTS, type WarmUp } from '../../scripts/warm-up.ts';
import { removeDir, REPO, run, TSX } from '../serverless/support.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

describe('startWarmUp', () => {
  it('starts nothing when no function has a warm-up', async () => {
    expect(await startWarmUp(['health-monitor', 'onboarding'])).toBeUndefined();
  });

  it('gives each CAMS function a signed FC 3.0 event that its real handler answers 200 to', async () => {
    const names = Object.keys(WARM_UP_REQUESTS);
    expect(names).toEqual(['bind-waba', 'query-waba', 'add-phone-number', 'get-health-status']);
    const warm = (await startWarmUp([...names, 'health-monitor'])) as WarmUp;
    try {
      expect(warm.invocation('health-monitor')).toBeUndefined();
      const invocations = names.map((n) => warm.invocation(n)!);
      const env = invocations[0]!.env;
      expect(Object.keys(env).sort()).toEqual(['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'API_KEYS', 'CAMS_ENDPOINT', 'STORE_URL']);
      expect(env.STORE_URL).toMatch(/^redis:\/\/127\.0\.0\.1:\d+\?namespace=build-warm-up:$/);
      const event = JSON.parse(invocations[0]!.event) as { rawPath: string; headers: Record<string, string>; requestContext: { http: { method: string } } };
      expect([event.requestContext.http.method, event.rawPath]).toEqual(['POST', '/waba/bind']);
      expect(Object.entries(event.headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1]).toMatch(/^ACS3-HMAC-SHA256 Credential=build-warm-up,/);

      const dir = mkdtempSync(join(tmpdir(), 'cams-fc-warm-up-'));
      dirs.push(dir);
      const script = join(dir, 'invoke.mts');
      writeFileSync(
        script,
        [
          'const names = JSON.parse(process.env.WARM_NAMES!) as string[];',
          'const events = JSON.parse(process.env.WARM_EVENTS!) as string[];',
          'const out: Record<string, unknown> = {};',
          'for (const [i, name] of names.entries()) {',
          `  const { handler } = await import(${JSON.stringify(`${REPO}/functions/`)} + name + '/handler.ts');`,
          "  const r = await handler(Buffer.from(events[i]!), { requestId: 'warm-up-test' });",
          '  out[name] = [r.statusCode, JSON.parse(r.body).Code];',
          '}',
          "process.stderr.write('RESULT ' + JSON.stringify(out) + '\\n');",
          // The store's redis connection stays open, as it does in an FC instance.
          'process.exit(0);',
          '',
        ].join('\n'),
      );
      const ran = await run(TSX, [script], {
        cwd: REPO,
        env: { PATH: process.env.PATH ?? '', ...env, WARM_NAMES: JSON.stringify(names), WARM_EVENTS: JSON.stringify(invocations.map((i) => i.event)) },
      });
      expect(ran.code, ran.output).toBe(0);
      const result = JSON.parse(/RESULT (.*)/.exec(ran.output)![1]!) as Record<string, unknown>;
      expect(result).toEqual(Object.fromEntries(names.map((n) => [n, [200, 'OK']])));
      // Each request went through the redis store, as on FC: its nonce and its budget slot, with
      // nothing the stand-in does not answer.
      const seen = [...warm.redisCommands];
      expect(seen.filter((c) => c.startsWith('unexpected'))).toEqual([]);
      expect(seen.filter((c) => c === 'EVAL kv')).toHaveLength(names.length);
      expect(seen.filter((c) => c === 'EVAL slot')).toHaveLength(names.length);
    } finally {
      await warm.close();
    }
  }, 60_000);
});
