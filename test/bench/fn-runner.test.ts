import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeScratch, timedNode } from '../../bench/lib/spawn.ts';
import { REPO } from '../serverless/support.ts';

const RUNNER = join(REPO, 'bench/lib/fn-runner.cjs');
const dir = mkdtempSync(join(tmpdir(), 'cams-fc-fn-runner-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  removeScratch();
});

function handlerFile(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `exports.handler = async (event, context) => { ${body} };\n`);
  return file;
}

const env = { BENCH_EVENT: JSON.stringify({ hello: 'fc' }), BENCH_CONTEXT: JSON.stringify({ requestId: 'r-1' }) };

describe('bench/lib/fn-runner.cjs', () => {
  it('hands the handler the event bytes and the context, and reports its marks in order, in ms since the process started', async () => {
    const file = handlerFile(
      'echo.cjs',
      "const e = JSON.parse(event.toString('utf8')); return { statusCode: Buffer.isBuffer(event) && e.hello === 'fc' && context.requestId === 'r-1' ? 200 : 500, body: '{\"Code\":\"OK\"}' };",
    );
    const s = await timedNode({ args: [RUNNER, file], env });
    const m = s.marks;
    expect(Object.keys(m).sort()).toEqual(['cpuLoaded', 'cpuReplied', 'cpuStart', 'loaded', 'replied', 'start']);
    // Node's own start takes well over a millisecond: a mark in seconds would be under 1.
    expect(m['start']!).toBeGreaterThan(1);
    expect(m['start']!).toBeLessThanOrEqual(m['loaded']!);
    expect(m['loaded']!).toBeLessThanOrEqual(m['replied']!);
    expect(m['replied']!).toBeLessThan(s.wallMs);
    expect(m['cpuStart']!).toBeLessThanOrEqual(m['cpuReplied']!);
  });

  it('a reply that is not a 200 with Code OK fails the run, so a broken function is never timed as a fast one', async () => {
    const status = handlerFile('status.cjs', "return { statusCode: 500, body: '{\"Code\":\"OK\"}' };");
    await expect(timedNode({ args: [RUNNER, status], env })).rejects.toThrow(/exited 1:[\s\S]*unexpected reply 500/);
    const code = handlerFile('code.cjs', "return { statusCode: 200, body: '{\"Code\":\"Throttling\"}' };");
    await expect(timedNode({ args: [RUNNER, code], env })).rejects.toThrow(/unexpected reply 200/);
    const thrown = handlerFile('throws.cjs', "throw new Error('boom');");
    await expect(timedNode({ args: [RUNNER, thrown], env })).rejects.toThrow(/boom/);
  });
});
