import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../bench/lib/bundle.ts';
import { allFunctions } from '../../bench/function-cold-start.ts';

describe('function-cold-start', () => {
  it('measures the eager bundle of every function serverless.yml deploys', () => {
    const config = parse(readFileSync(join(REPO_ROOT, 'serverless.yml'), 'utf8')) as { functions: Record<string, unknown> };
    expect(allFunctions()).toEqual(Object.keys(config.functions).sort());
    expect(allFunctions()).toContain('cams-events');
  });
});
