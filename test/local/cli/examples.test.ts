import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE } from '../../../local/cli/run-call.ts';
import { npmCall, startNpmHost, type NpmHost } from '../npm-start.ts';

// The examples a new user copies, run as printed against `npm start` (its embedded sandbox): the
// usage's own, and the README's quick start, in order. Each must answer 2xx (exit code 0).
let host: NpmHost;

beforeAll(async () => {
  host = await startNpmHost();
}, 40_000);

afterAll(() => host?.stop());

/** The arguments after `npm run call --` of each such line, read as a POSIX shell splits them ('…', "…", bare words). */
function calls(text: string): string[][] {
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    const at = line.indexOf('npm run call -- ');
    // A command line, not the usage's synopsis or a comment.
    if (at < 0 || !line.trimStart().startsWith('npm run call -- ')) continue;
    const words = [...line.slice(at + 'npm run call -- '.length).matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
    if (words[0] !== '--sandbox' && !words.includes('#')) out.push(words);
  }
  return out;
}

function quickStart(): string {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const blocks = section.split('```sh').slice(1, 3).map((b) => b.slice(0, b.indexOf('```')));
  return blocks[1]!;
}

describe('the documented npm run call examples work as printed', () => {
  it("the usage's examples", async () => {
    const examples = calls(USAGE);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const args of examples) {
      const r = await npmCall(host.url, args);
      expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 60_000);

  it("the README's quick start, in order", async () => {
    const examples = calls(quickStart());
    expect(examples.length).toBeGreaterThanOrEqual(10);
    for (const args of examples) {
      const r = await npmCall(host.url, args);
      expect(r.code, `${args.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
    }
  }, 90_000);
});
