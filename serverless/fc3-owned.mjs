// Copied to dist/fc3/ by `npm run package`, beside the helpers that import it (policy.mjs, role.mjs,
// rule.mjs, bus.mjs): what they share to tell a resource that exists from the one the scripts would
// write: whose it is (its description is the scripts' mark for it), and JSON documents compared as
// JSON, not as text.

/** A JSON document with every object's keys sorted; undefined when it is not JSON (as it is, or URL-encoded). */
export function normalisedJson(text) {
  const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  for (const candidate of [text, safeDecode(text)]) {
    try {
      return JSON.stringify(sorted(JSON.parse(candidate)));
    } catch {
      // not JSON as it is: RAM may hand it back URL-encoded
    }
  }
  return undefined;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(String(text));
  } catch {
    return text;
  }
}

/**
 * Throws unless `description` is the scripts' `mark` for the resource: one of that name without it
 * was made by hand, by another tool, or by a version of the scripts from before the mark, and is not
 * taken over (the writes of a re-run, and prune.mjs deleting it later, would be ours on someone
 * else's). The message names it, says nothing was changed, and gives the command that hands it over.
 * @param {{what: string, script: string, description: unknown, mark: string, handOver: string, otherwise: string}} r
 */
export function assertOurs({ what, script, description, mark, handOver, otherwise }) {
  const said = typeof description === 'string' ? description : '';
  if (said === mark) return;
  throw new Error(
    `${what} exists but is not this deployment's: its description is ${JSON.stringify(said)}, not ${JSON.stringify(mark)} ` +
      `(made by hand or by another tool, or by a version of ${script} from before it marked what it makes). Nothing was changed on it. ` +
      `If it is this service and stage's, mark it and run ${script} again: ${handOver}. ` +
      `If it is not, ${otherwise}.`,
  );
}

/** A shell word of `s` (single-quoted), for the commands the messages give. */
export const shellWord = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
