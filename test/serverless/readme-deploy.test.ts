// README "FC 3.0 with Serverless Devs": the variables its deploy commands export, run by sh as
// written, are ones packaging for that stage accepts.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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
});
