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
 * What the scripts make, by kind (`role`, `policy`, `bus`, `rule`), as the messages about one of
 * that name not theirs say it: its name in words, the script, its `mark` (the scripts' description of
 * it), the aliyun command that marks it as this deployment's, and what to do if it is not.
 * @param {'role' | 'policy' | 'bus' | 'rule'} kind
 * @param {string} name
 * @param {string} mark the whole description: prune.json's mark, then `name`
 * @param {{region?: string, bus?: string}} [at] where a bus or rule is
 */
export function ownedResource(kind, name, mark, at = {}) {
  const n = shellWord(name);
  const m = shellWord(mark);
  switch (kind) {
    case 'role':
      return { what: `RAM role ${name}`, script: 'ram.sh', mark, handOver: `aliyun ram UpdateRole --RoleName ${n} --NewDescription ${m}`, otherwise: 'deploy under another service or stage name (roles are named <service>-<stage>-<function>), or remove that role first' };
    case 'policy':
      return { what: `RAM policy ${name}`, script: 'ram.sh', mark, handOver: `aliyun ram UpdatePolicyDescription --PolicyName ${n} --NewDescription ${m}`, otherwise: 'deploy under another service or stage name (policies are named <service>-<stage>-<function>), or remove that policy first' };
    case 'bus':
      return { what: `EventBridge bus ${name}`, script: 'eventbridge.sh', mark, handOver: `aliyun eventbridge UpdateEventBus --region ${at.region} --EventBusName ${n} --Description ${m}`, otherwise: 'deploy under another service or stage name (the bus is named <service>-<stage>), or remove that bus first' };
    case 'rule':
      return { what: `EventBridge rule ${name} of bus ${at.bus}`, script: 'eventbridge.sh', mark, handOver: `aliyun eventbridge UpdateRule --region ${at.region} --EventBusName ${shellWord(at.bus)} --RuleName ${n} --Description ${m}`, otherwise: "rename or remove that rule first (the scripts name a function's rules <function>-events-<n>)" };
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

/**
 * Why a resource of the scripts' name is not theirs to take over, or undefined when `description` is
 * the scripts' `mark` for it: one without it was made by hand, by another tool, or by a version of
 * the scripts from before the mark (the writes of a re-run, and prune.mjs deleting it later, would be
 * ours on someone else's). It names it, says nothing was changed, and gives the command that hands it over.
 * @param {{what: string, script: string, description: unknown, mark: string, handOver: string, otherwise: string}} r
 */
export function notOurs({ what, script, description, mark, handOver, otherwise }) {
  const said = typeof description === 'string' ? description : '';
  if (said === mark) return undefined;
  return (
    `${what} exists but is not this deployment's: its description is ${JSON.stringify(said)}, not ${JSON.stringify(mark)} ` +
    `(made by hand or by another tool, or by a version of ${script} from before it marked what it makes). Nothing was changed on it. ` +
    `If it is this service and stage's, mark it and run ${script} again: ${handOver}. ` +
    `If it is not, ${otherwise}.`
  );
}

/** Throws notOurs's message unless the resource is the scripts'. */
export function assertOurs(r) {
  const why = notOurs(r);
  if (why !== undefined) throw new Error(why);
}

/** A shell word of `s` (single-quoted), for the commands the messages give. */
export const shellWord = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
