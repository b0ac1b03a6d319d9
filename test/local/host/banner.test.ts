import { describe, expect, it } from 'vitest';
import { exposureNote } from '../../../local/host/banner.ts';

describe('the banner on a host other machines can reach', () => {
  it('warns that the queue routes take messages without credentials (and the default keys sign anything); not on loopback', () => {
    expect(exposureNote('http://0.0.0.0:9000', false)).toMatch(/mns queue routes take messages without credentials.*keep HOST=127\.0\.0\.1/);
    expect(exposureNote('http://0.0.0.0:9000', false)).not.toContain('API_KEYS');
    expect(exposureNote('http://192.168.1.20:9000', true)).toContain('the default API_KEYS pair above signs any call');
    expect(exposureNote('http://[::]:9000', false)).toBeDefined();
    for (const url of ['http://127.0.0.1:9000', 'http://127.0.0.2:1', 'http://localhost:9000', 'http://[::1]:9000']) expect(exposureNote(url, true), url).toBeUndefined();
  });
});
