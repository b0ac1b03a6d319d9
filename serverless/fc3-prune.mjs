// Copied to dist/fc3/prune.mjs by `npm run package`; ram.sh and eventbridge.sh run it last
// (`node prune.mjs ram|eventbridge`). It removes the RAM roles and policies, and the EventBridge rules
// on the service's own bus, that those scripts made for this service and stage (their description is
// prune.json's `mark` followed by their own name) and that the package no longer has: a function
// taken out of serverless.yml, an eventbridge event taken off a function; and the bus itself once the
// package has no rule for it and no rule at all is left on it. Nothing else is touched: a
// resource without that exact description (another stage's, one made by hand, one an earlier version
// of the scripts made and no re-run has marked since) is left as it is.
// A resource that could not be removed is named and the others are still tried; the exit code is 1.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { aliyun, aliyunPart, entryName, field, heldList, listAll } from './fc3-aliyun.mjs';

const plan = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'prune.json'), 'utf8'));
/** A resource (a listing's entry, a read) the scripts made for this service and stage: its description, read in either case, is the mark for `name`. */
const ours = (resource, name) => typeof name === 'string' && field(resource, 'Description') === plan.mark + name;
let failed = false;

function attempt(what, fn) {
  try {
    fn();
    console.log(`removed ${what}: no longer in the package`);
  } catch (e) {
    failed = true;
    console.error(`could not remove ${what}: ${e.message}`);
  }
}

function pruneRam() {
  const keepRoles = new Set(plan.roles);
  const keepPolicies = new Set(plan.policies);
  const ramPages = (r) => (r.IsTruncated && r.Marker ? ['--Marker', r.Marker] : undefined);
  // Names read in either case (field): one without its name is not ours, and is left.
  const roles = listAll(['ram', 'ListRoles', '--MaxItems', '1000'], ['Roles', 'Role'], ramPages);
  for (const role of roles.filter((r) => ours(r, field(r, 'RoleName')) && !keepRoles.has(field(r, 'RoleName')))) {
    const name = field(role, 'RoleName');
    attempt(`RAM role ${name}`, () => {
      // A role is deleted only without policies: its own and the logs policy are detached first (a
      // reply without Policies is a failure, named, not a role with none; so is an entry without its
      // name or type, rather than a detach of `undefined`).
      const args = ['ram', 'ListPoliciesForRole', '--RoleName', name];
      for (const p of listAll(args, ['Policies', 'Policy'], () => undefined)) {
        aliyun('ram', 'DetachPolicyFromRole', '--PolicyType', entryName(p, 'PolicyType', args), '--PolicyName', entryName(p, 'PolicyName', args), '--RoleName', name);
      }
      aliyun('ram', 'DeleteRole', '--RoleName', name);
    });
  }
  const policies = listAll(['ram', 'ListPolicies', '--PolicyType', 'Custom', '--MaxItems', '1000'], ['Policies', 'Policy'], ramPages);
  for (const policy of policies.filter((p) => ours(p, field(p, 'PolicyName')) && !keepPolicies.has(field(p, 'PolicyName')))) {
    const name = field(policy, 'PolicyName');
    // Attached to a user, group or role of yours since: that use is yours, and it stays. A reply
    // without one of the three lists is a failure, named: read as empty, a policy in use was taken for one to delete.
    let holders;
    try {
      const args = ['ram', 'ListEntitiesForPolicy', '--PolicyType', 'Custom', '--PolicyName', name];
      const entities = aliyun(...args);
      holders = [
        ...heldList(entities, ['Users', 'User'], args).map((u) => `user ${field(u, 'UserName')}`),
        ...heldList(entities, ['Groups', 'Group'], args).map((g) => `group ${field(g, 'GroupName')}`),
        ...heldList(entities, ['Roles', 'Role'], args).map((r) => `role ${field(r, 'RoleName')}`),
      ];
    } catch (e) {
      failed = true;
      console.error(`could not remove RAM policy ${name}: could not tell what it is attached to: ${e.message}`);
      continue;
    }
    if (holders.length > 0) {
      console.log(`left RAM policy ${name}: no longer in the package, but attached to ${holders.join(', ')}`);
      continue;
    }
    attempt(`RAM policy ${name}`, () => {
      // A policy is deleted only with its default version alone left.
      const args = ['ram', 'ListPolicyVersions', '--PolicyType', 'Custom', '--PolicyName', name];
      for (const v of listAll(args, ['PolicyVersions', 'PolicyVersion'], () => undefined)) {
        const isDefault = field(v, 'IsDefaultVersion');
        if (isDefault !== true && isDefault !== 'true') aliyun('ram', 'DeletePolicyVersion', '--PolicyName', name, '--VersionId', entryName(v, 'VersionId', args));
      }
      aliyun('ram', 'DeletePolicy', '--PolicyName', name);
    });
  }
}

function pruneEventBridge() {
  const bus = ['--region', plan.region, '--EventBusName', plan.bus];
  const busPages = (r) => (r.Data?.NextToken ? ['--NextToken', String(r.Data.NextToken)] : undefined);
  let rules;
  try {
    rules = listAll(['eventbridge', 'ListRules', ...bus, '--Limit', '100'], ['Data', 'Rules'], busPages);
  } catch (e) {
    // No rule now, so eventbridge.sh made no bus: there may be none to list.
    if (plan.rules.length > 0) throw e;
    console.log(`no rules of bus ${plan.bus} to remove (${e.message})`);
    return;
  }
  const keep = new Set(plan.rules);
  for (const rule of rules.filter((r) => ours(r, field(r, 'RuleName')) && !keep.has(field(r, 'RuleName')))) {
    const name = field(rule, 'RuleName');
    attempt(`EventBridge rule ${name} of bus ${plan.bus}`, () => {
      const at = [...bus, '--RuleName', name];
      const args = ['eventbridge', 'ListTargets', ...at, '--Limit', '100'];
      // Every id read before the write: a target without one is a failure naming ListTargets, not a DeleteTargets of [null].
      const ids = listAll(args, ['Data', 'Targets'], busPages).map((t) => entryName(t, 'Id', args));
      if (ids.length > 0) aliyun('eventbridge', 'DeleteTargets', ...at, '--TargetIds', JSON.stringify(ids));
      aliyun('eventbridge', 'DeleteRule', ...at);
    });
  }
  if (plan.rules.length > 0) return;
  // No rule of the package's on it now: the bus goes too, if these scripts made it and nothing is
  // left on it (a rule of yours, or one of ours that could not be removed, keeps it).
  // A reply without the bus is a failure, named: read as one with no description, the bus was left as not ours.
  const made = aliyunPart('Data', 'eventbridge', 'GetEventBus', ...bus);
  if (!ours(made, plan.bus)) return;
  const left = listAll(['eventbridge', 'ListRules', ...bus, '--Limit', '100'], ['Data', 'Rules'], busPages);
  if (left.length > 0) {
    console.log(`left EventBridge bus ${plan.bus}: no longer in the package, but it has rules: ${left.map((r) => field(r, 'RuleName')).join(', ')}`);
    return;
  }
  attempt(`EventBridge bus ${plan.bus}`, () => aliyun('eventbridge', 'DeleteEventBus', ...bus));
}

const what = process.argv[2];
try {
  if (what === 'ram') pruneRam();
  else if (what === 'eventbridge') pruneEventBridge();
  else throw new Error(`usage: node prune.mjs ram|eventbridge (got ${JSON.stringify(what)})`);
} catch (e) {
  console.error(e.message);
  failed = true;
}
process.exit(failed ? 1 : 0);
