/** The local host's one gate for invocations (local/host/invocations.ts). */
import { describe, expect, it } from 'vitest';
import type { IsolatedFunction } from '../../../local/host/function-runtime.ts';
import { HOST_STOPPING, type InvocationOutcome } from '../../../local/host/functions.ts';
import { Invocations } from '../../../local/host/invocations.ts';

/** A function whose invocations end when the test says (only `invoke` is the gate's business). */
function heldFunction() {
  const calls: Array<{ requestId: string; retryCount: number; finish: (o: InvocationOutcome) => void }> = [];
  const fn = {
    invoke: (_event: Buffer, requestId: string, retryCount = 0) => new Promise<InvocationOutcome>((finish) => calls.push({ requestId, retryCount, finish })),
  } as unknown as IsolatedFunction;
  return { fn, calls };
}
const ok: InvocationOutcome = { ok: true, result: { body: 'done' }, durationMs: 1 };

describe('Invocations', () => {
  it('passes an invocation to its function, and once stopping starts none and returns those still running', async () => {
    const { fn, calls } = heldFunction();
    const gate = new Invocations(new Map([['echo', fn]]));
    const first = gate.run('echo', Buffer.from('{}'), 'req-1');
    const second = gate.run('echo', Buffer.from('{}'), 'req-2', 2);
    expect(calls.map((c) => [c.requestId, c.retryCount])).toEqual([['req-1', 0], ['req-2', 2]]);
    calls[0]!.finish(ok);
    expect(await first).toBe(ok);

    const running = gate.stop();
    expect(running).toHaveLength(1);
    const late = await gate.run('echo', Buffer.from('{}'), 'req-3');
    expect(late).toMatchObject({ ok: false, error: { errorType: HOST_STOPPING } });
    expect(calls).toHaveLength(2);

    calls[1]!.finish(ok);
    await Promise.all(running);
    expect(await second).toBe(ok);
  });
});
