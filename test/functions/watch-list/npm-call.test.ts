import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { npmCall as callCli, startNpmHost, type NpmHost } from '../../local/npm-start.ts';

// `npm start` (the local host, from serverless.yml) as a child process, and `npm run call` against
// it, for the three watch-list routes.
let host: NpmHost;
let output: string;

/** `npm run call` with its stdout and stderr as one text. */
async function npmCall(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const r = await callCli(host.url, args);
  return { code: r.code, stdout: r.stdout + r.stderr };
}

beforeAll(async () => {
  host = await startNpmHost();
  output = host.output();
}, 40_000);

afterAll(() => host?.stop());

describe('npm run call with the watch-list routes', () => {
  it('the host lists them; POST, GET and DELETE work signed with the default key', async () => {
    expect(output).toMatch(/GET \/watch-list\s+-> watch-list/);
    expect(output).toMatch(/DELETE \/watch-list\s+-> watch-list/);
    const targets = JSON.stringify({ Targets: [{ CustSpaceId: 'C12345678901234', NodeType: 'phone', PhoneNumber: '8613800000000' }] });
    const posted = await npmCall(['POST', '/watch-list', targets]);
    expect(posted.code, posted.stdout).toBe(0);
    expect(posted.stdout).toMatch(/"Added": 1\b/);
    const listed = await npmCall(['GET', '/watch-list?PageSize=10']);
    expect(listed.code, listed.stdout).toBe(0);
    expect(listed.stdout).toMatch(/"PhoneNumber": "8613800000000"/);
    const bad = await npmCall(['POST', '/watch-list', '{"Targets":[{"CustSpaceId":"C12345678901234","NodeType":"phone"}]}']);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toContain('Targets.0.PhoneNumber');
    const removed = await npmCall(['DELETE', '/watch-list', targets]);
    expect(removed.code, removed.stdout).toBe(0);
    expect(removed.stdout).toMatch(/"Removed": 1\b/);
  }, 60_000);
});
