// Copied to dist/fc3/ by `npm run package`, beside the helpers that import it (prune.mjs, policy.mjs, bus.mjs):
// the aliyun CLI as they call it, its JSON reply read, a failure thrown with the CLI's own message.
import { execFileSync } from 'node:child_process';

/** One aliyun CLI call, its JSON reply; a failure throws with the CLI's own message. */
export function aliyun(...args) {
  try {
    const out = execFileSync('aliyun', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim() === '' ? {} : JSON.parse(out);
  } catch (e) {
    const said = String(e.stderr ?? e.message ?? e).trim();
    throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: ${said}`, { cause: e });
  }
}

/** Every item of a listing the CLI pages (`next` gives the arguments of the page after a reply, or none). */
export function listAll(args, items, next) {
  const all = [];
  const seen = new Set();
  let more = [];
  for (;;) {
    const reply = aliyun(...args, ...more);
    const page = items(reply) ?? [];
    all.push(...page);
    more = next(reply);
    if (!more || page.length === 0 || seen.has(more.join(' '))) return all;
    seen.add(more.join(' '));
  }
}
