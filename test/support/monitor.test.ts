import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../local/sandbox/server.ts';
import { isCamsError } from '../../shared/cams/errors.ts';
import { sandboxClient } from './monitor.ts';
import { sandboxForFile } from './sandbox-env.ts';

let sandbox: RunningSandbox;
sandboxForFile(50, (s) => (sandbox = s));

describe('sandboxClient', () => {
  it('runs at the qps it is given: 30 calls at once, each to start within ~2.2 s, all get a slot at 50 QPS (5 QPS has room for ~11)', async () => {
    const client = sandboxClient(sandbox, 50);
    const space = (await client.bindWaba({ WabaId: '299399000950' })).data.CustSpaceId;
    const deadline = Date.now() + 2500;
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, () =>
        client.getHealthStatus({ CustSpaceId: space, NodeType: 'waba', WabaId: '299399000950' }, { deadline }).then(
          () => 'ok',
          (e: unknown) => (isCamsError(e) && e.budgetRefusal ? 'refused' : String(e)),
        ),
      ),
    );
    expect(outcomes.filter((o) => o !== 'ok')).toEqual([]);
  });
});
