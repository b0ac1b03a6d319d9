// README "FC 3.0 with Serverless Devs": the variables its deploy commands export, run by sh as
// written, are ones packaging for that stage accepts.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadServerlessConfig } from '../../local/host/serverless-config.ts';
import { parseKeyList } from '../../shared/config/env.ts';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

function deployBlock(): string {
  const section = readme.slice(readme.indexOf('### FC 3.0 with Serverless Devs'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error('no sh block under "FC 3.0 with Serverless Devs"');
  return block[1]!;
}

describe('README deploy commands', () => {
  it('export an API_KEYS that the functions (and so packaging) accept', () => {
    const exports = deployBlock().split('\n').filter((l) => l.startsWith('export ')).join('\n');
    expect(exports).toContain('API_KEYS=');
    const apiKeys = execFileSync('sh', ['-c', `${exports}\nprintf %s "$API_KEYS"`], { encoding: 'utf8' });
    expect(() => parseKeyList('API_KEYS', apiKeys)).not.toThrow();
  });

  it('create, before `s deploy`, every MNS queue the packaged stage reads (a trigger on a missing queue fails the deploy)', () => {
    const lines = deployBlock().split('\n');
    const deploy = lines.findIndex((l) => /s deploy/.test(l));
    expect(deploy).toBeGreaterThan(0);
    const stage = /npm run package -- --stage (\S+)/.exec(deployBlock())?.[1];
    expect(stage).toBeDefined();
    // the block's aliyun calls before `s deploy`, run by sh as written, with an aliyun that records them
    const dir = mkdtempSync(join(tmpdir(), 'cams-fc-readme-'));
    try {
      writeFileSync(join(dir, 'aliyun'), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${JSON.stringify(join(dir, 'calls'))}\n`);
      chmodSync(join(dir, 'aliyun'), 0o755);
      writeFileSync(join(dir, 'calls'), '');
      const calls = lines.slice(0, deploy).filter((l) => /^(for .*; do )?aliyun mns-open /.test(l));
      execFileSync('sh', ['-c', calls.join('\n')], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
      const created = readFileSync(join(dir, 'calls'), 'utf8').split('\n').filter((c) => c.startsWith('mns-open CreateQueue '));
      const config = loadServerlessConfig(fileURLToPath(new URL('../../serverless.yml', import.meta.url)), { env: {}, options: { stage: stage! } });
      const queues = config.functions.flatMap((f) => f.other.filter((e) => e.kind === 'mns').map((e) => e.queueName));
      expect(queues.length).toBeGreaterThan(0);
      for (const q of queues) expect(created.some((c) => c.includes(`--QueueName ${q}`) && c.includes(`--region ${config.region}`)), q).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
