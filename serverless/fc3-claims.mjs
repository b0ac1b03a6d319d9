// Copied to dist/fc3/claims.mjs by `npm run package`. ram.sh and eventbridge.sh run it first, before
// any write (`node claims.mjs ram|eventbridge`): it finds every role and policy (ram), or the bus and
// its rules (eventbridge), of the names the package makes (prune.json) that exists but is not this
// deployment's (its description is not the scripts' mark for it), and names them all at once, each
// with the command that hands it over, so that an operator upgrading from a version of the scripts
// from before the mark marks them all and runs the script once more, not once per resource. It then
// exits 1 and the script stops there, having written nothing. It writes nothing itself.
// The per-resource checks (role.mjs, policy.mjs, bus.mjs, rule.mjs) stay: a resource made between this
// look and its step, or one this look could not read, is still not taken over.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { aliyun, entryName, field, listAll } from './fc3-aliyun.mjs';
import { notOurs, ownedResource } from './fc3-owned.mjs';

const plan = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'prune.json'), 'utf8'));

/** The ones of `names` among `found` ({name, description}) that are not the scripts', each said. */
function notMarked(kind, names, found) {
  const byName = new Map(found.map((f) => [f.name, f.description]));
  return names.filter((n) => byName.has(n)).flatMap((n) => notOurs({ ...ownedResource(kind, n, plan.mark + n, plan), description: byName.get(n) }) ?? []);
}

/** The roles and policies of the package's names not the scripts', from RAM's listings (their descriptions). */
function ramClaims() {
  const pages = (r) => (r.IsTruncated && r.Marker ? ['--Marker', r.Marker] : undefined);
  // Names and descriptions in either case (field); an entry without its name is a failure naming
  // the listing: it could be one of ours, not marked, and this look would miss it.
  const roleArgs = ['ram', 'ListRoles', '--MaxItems', '1000'];
  const roles = listAll(roleArgs, ['Roles', 'Role'], pages).map((r) => ({ name: entryName(r, 'RoleName', roleArgs), description: field(r, 'Description') }));
  const policyArgs = ['ram', 'ListPolicies', '--PolicyType', 'Custom', '--MaxItems', '1000'];
  const policies = listAll(policyArgs, ['Policies', 'Policy'], pages).map((p) => ({ name: entryName(p, 'PolicyName', policyArgs), description: field(p, 'Description') }));
  return [...notMarked('role', plan.roles, roles), ...notMarked('policy', plan.policies, policies)];
}

/** The bus and the rules of the package's names not the scripts'. No rule in the package: no bus is made, nothing to claim. */
function eventBridgeClaims() {
  if (plan.rules.length === 0) return [];
  const at = ['--region', plan.region, '--EventBusName', plan.bus];
  let bus;
  try {
    bus = aliyun('eventbridge', 'GetEventBus', ...at).Data;
  } catch {
    // Not there (a first run), or not readable: its own step creates it, or stops reading it.
    return [];
  }
  // A reply without the bus says nothing of it: left to its step too.
  if (!bus || typeof bus !== 'object') return [];
  const claims = notMarked('bus', [plan.bus], [{ name: plan.bus, description: field(bus, 'Description') }]);
  const pages = (r) => (r.Data?.NextToken ? ['--NextToken', String(r.Data.NextToken)] : undefined);
  const ruleArgs = ['eventbridge', 'ListRules', ...at, '--Limit', '100'];
  const rules = listAll(ruleArgs, ['Data', 'Rules'], pages).map((r) => ({ name: entryName(r, 'RuleName', ruleArgs), description: field(r, 'Description') }));
  return [...claims, ...notMarked('rule', plan.rules, rules)];
}

const what = process.argv[2];
const script = what === 'ram' ? 'ram.sh' : 'eventbridge.sh';
try {
  if (what !== 'ram' && what !== 'eventbridge') throw new Error(`usage: node claims.mjs ram|eventbridge (got ${JSON.stringify(what)})`);
  const claims = what === 'ram' ? ramClaims() : eventBridgeClaims();
  if (claims.length > 0) {
    const each = claims.length === 1 ? 'it' : `each of these ${claims.length}`;
    console.error(`${script}: nothing was written: ${each} exists under a name this package makes but is not this deployment's. Hand over, or deal with, every one, then run ${script} once more:`);
    for (const c of claims) console.error(`  - ${c}`);
    process.exit(1);
  }
} catch (e) {
  console.error(`${script}: could not look for what exists under this package's names and is not this deployment's: ${e.message}`);
  process.exit(1);
}
