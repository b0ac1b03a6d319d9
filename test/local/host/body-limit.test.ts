import { describe, expect, it } from 'vitest';
import { routeBodyLimit } from '../../../local/host/body-limit.ts';
import type { FunctionSpec } from '../../../local/host/serverless-config.ts';

const spec = (environment: Record<string, string>): FunctionSpec => ({ name: 'bind-waba', environment } as unknown as FunctionSpec);
const FC_SYNC = 32 * 1024 * 1024;

describe('routeBodyLimit: the function\'s own MAX_BODY_BYTES', () => {
  it('defaults to the functions\' 262144; an empty value (`${env:X, \'\'}`) is the default too', () => {
    expect(routeBodyLimit(spec({}), FC_SYNC)).toBe(262_144);
    expect(routeBodyLimit(spec({ MAX_BODY_BYTES: '' }), FC_SYNC)).toBe(262_144);
  });

  it('takes the value serverless.yml gives that function, never above FC\'s limit', () => {
    expect(routeBodyLimit(spec({ MAX_BODY_BYTES: '1000' }), FC_SYNC)).toBe(1000);
    expect(routeBodyLimit(spec({ MAX_BODY_BYTES: String(64 * 1024 * 1024) }), FC_SYNC)).toBe(FC_SYNC);
  });

  it('a bad value fails start-up naming the function and the variable', () => {
    expect(() => routeBodyLimit(spec({ MAX_BODY_BYTES: '1MB' }), FC_SYNC)).toThrow(
      'serverless.yml functions.bind-waba.environment MAX_BODY_BYTES: must be a whole number',
    );
    expect(() => routeBodyLimit(spec({ MAX_BODY_BYTES: '0' }), FC_SYNC)).toThrow('MAX_BODY_BYTES: must be greater than 0');
  });
});
