// Copied to dist/fc3/ by `npm run package`, beside the helpers that import it (prune.mjs, policy.mjs, role.mjs, rule.mjs, bus.mjs, write.mjs, claims.mjs, attached.mjs):
// the aliyun CLI as they call it, its JSON reply read, a failure thrown with the CLI's own message
// (or naming what the reply lacks).
import { execFileSync } from 'node:child_process';

/**
 * One aliyun CLI call, its JSON reply; a failure throws with the CLI's own message. So does a reply
 * that says `Success: false` (EventBridge's replies carry Success and Code): the CLI exits 0 for an
 * HTTP 200, and read as a reply, its absent Data passed for a resource with no description (one "not
 * this deployment's") or for an empty listing.
 */
export function aliyun(...args) {
  let reply;
  try {
    const out = execFileSync('aliyun', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    reply = out.trim() === '' ? {} : JSON.parse(out);
  } catch (e) {
    const said = String(e.stderr ?? e.message ?? e).trim();
    throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: ${said}`, { cause: e });
  }
  if (reply && (reply.Success === false || reply.Success === 'false')) {
    throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: its reply says Success false: ${reply.Code ?? 'no Code'}: ${reply.Message ?? 'no Message'}`);
  }
  return reply;
}

/**
 * The `key` part of one call's reply (`Data` of GetEventBus, `Role` of GetRole, …). A reply without it
 * (exit 0) says nothing of the resource: a failure naming the call, not a resource with no
 * description (one "not this deployment's") nor one whose document differs (a write).
 */
export function aliyunPart(key, ...args) {
  const part = aliyun(...args)?.[key];
  if (!part || typeof part !== 'object') throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: its reply holds no ${key}`);
  return part;
}

/**
 * The `list` of a reply's `container` (`Roles.Role`, `Data.Rules`, `Users.User`); a reply without the
 * container is a failure naming the call (`args`), and a container without the list an empty one.
 */
export function heldList(reply, [container, list], args) {
  const held = reply?.[container];
  if (!held || typeof held !== 'object') throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: its reply holds no ${container}`);
  return Array.isArray(held[list]) ? held[list] : [];
}

/**
 * Every item of a listing the CLI pages: `[container, list]` names where a reply holds them
 * (`['Roles', 'Role']`, `['Data', 'Rules']`), and `next` gives the arguments of the page after a reply,
 * or none. A reply without its container is a failure naming the call: read as an empty page, it hid
 * every resource the listing is there to find (a target taken for missing, and written again).
 */
export function listAll(args, where, next) {
  const all = [];
  const seen = new Set();
  let more = [];
  for (;;) {
    const reply = aliyun(...args, ...more);
    const page = heldList(reply, where, args);
    all.push(...page);
    more = next(reply);
    if (!more || page.length === 0 || seen.has(more.join(' '))) return all;
    seen.add(more.join(' '));
  }
}

/** A field of a reply, whatever the case of its first letter (EventBridge's replies use both: `Description`, `description`). */
export function field(o, key) {
  if (!o || typeof o !== 'object') return undefined;
  const k = Object.keys(o).find((n) => n.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : o[k];
}


/**
 * A name or id (`RoleName`, `PolicyName`, `RuleName`, `Id`, …, either case) an entry of a listing must
 * hold to be acted on or looked for; an entry without it is a failure naming the call (`args`): sent
 * on, a write would carry `undefined` (`DeleteTargets` of `[null]`), and a look would miss it.
 */
export function entryName(entry, key, args) {
  const v = field(entry, key);
  if ((typeof v !== 'string' || v === '') && typeof v !== 'number') throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: an entry of its reply holds no ${key}`);
  return String(v);
}
