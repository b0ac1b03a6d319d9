import { describe, expect, it } from 'vitest';
import { DEFAULT_SANDBOX_KEYS } from '../../local/sandbox/server.ts';
import { sandboxCalls, sandboxStats, setupClient, spawnSandbox, statsDelta, THROTTLED_CODE } from '../../bench/lib/sandbox.ts';

const HEALTH = 'GetWhatsappHealthStatus';

describe('the benches\' sandbox process', () => {
  it('throttles at its limit, and its counters match its call log (incremental reads included)', async () => {
    const sandbox = await spawnSandbox({ qps: { [HEALTH]: 2 } });
    try {
      const client = setupClient(sandbox, DEFAULT_SANDBOX_KEYS[0]!);
      const space = (await client.bindWaba({ WabaId: '109100000000099' })).data.CustSpaceId;
      const before = await sandboxStats(sandbox);
      // 6 at once against a limit of 2: some are throttled (the setup client does not retry).
      await Promise.all(Array.from({ length: 6 }, () => client.getHealthStatus({ CustSpaceId: space, NodeType: 'waba' }).catch(() => undefined)));
      const after = await sandboxStats(sandbox);
      const codes = statsDelta(before, after, HEALTH);
      const log = (await sandboxCalls(sandbox, before.LastSeq)).filter((c) => c.Action === HEALTH);
      expect(log).toHaveLength(6);
      expect(codes[THROTTLED_CODE]).toBeGreaterThan(0);
      expect(codes).toEqual({ OK: log.filter((c) => c.Code === 'OK').length, [THROTTLED_CODE]: log.filter((c) => c.Code === THROTTLED_CODE).length });
      expect(log.map((c) => c.Seq)).toEqual(Array.from({ length: 6 }, (_, i) => before.LastSeq + 1 + i));
    } finally {
      await sandbox.close();
    }
  }, 30_000);
});
