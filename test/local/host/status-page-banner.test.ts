import { describe, expect, it } from 'vitest';
import { statusPageLine } from '../../../local/host/status-page-banner.ts';

const routes = [{ method: 'GET', path: '/status' }];

describe('the banner\'s status page line', () => {
  it('prints the URL, naming the token variable but never its value', () => {
    const line = statusPageLine('http://127.0.0.1:9000', routes, { STATUS_PAGE_TOKEN: 'secret-token-0123456789' })!;
    expect(line).toContain('http://127.0.0.1:9000/status?token=<STATUS_PAGE_TOKEN>');
    expect(line).not.toContain('secret-token');
    expect(statusPageLine('http://h:1', routes, { STATUS_PAGE_PUBLIC: 'true' })).toContain('http://h:1/status ');
    expect(statusPageLine('http://h:1', routes, {})).toMatch(/off \(404\): set STATUS_PAGE_TOKEN/);
    expect(statusPageLine('http://h:1', [], { STATUS_PAGE_PUBLIC: 'true' })).toBeUndefined();
  });
});
