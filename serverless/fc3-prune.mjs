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
import { aliyun, aliyunPart, field, heldList, listAll } from './fc3-aliyun.mjs';

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
  const roles = listAll(['ram', 'ListRoles', '--MaxItems', '1000'], ['Roles', 'Role'], ramPages);
  for (const role of roles.filter((r) => ours(r, r.RoleName) && !keepRoles.has(r.RoleName))) {
    attempt(`RAM role ${role.RoleName}`, () => {
      // A role is deleted only without policies: its own and the logs policy are detached first (a
      // reply without Policies is a failure, named, not a role with none).
      for (const p of listAll(['ram', 'ListPoliciesForRole', '--RoleName', role.RoleName], ['Policies', 'Policy'], () => undefined)) {
        aliyun('ram', 'DetachPolicyFromRole', '--PolicyType', p.PolicyType, '--PolicyName', p.PolicyName, '--RoleName', role.RoleName);
      }
      aliyun('ram', 'DeleteRole', '--RoleName', role.RoleName);
    });
  }
  const policies = listAll(['ram', 'ListPolicies', '--PolicyType', 'Custom', '--MaxItems', '1000'], ['Policies', 'Policy'], ramPages);
  for (const policy of policies.filter((p) => ours(p, p.PolicyName) && !keepPolicies.has(p.PolicyName))) {
    const name = policy.PolicyName;
    // Attached to a user, group or role of yours since: that use is yours, and it stays. A reply
    // without one of the three lists is a failure, named: read as empty, a policy in use was taken for one to delete.
    let holders;
    try {
      const args = ['ram', 'ListEntitiesForPolicy', '--PolicyType', 'Custom', '--PolicyName', name];
      const entities = aliyun(...args);
      holders = [
        ...heldList(entities, ['Users', 'User'], args).map((u) => `user ${u.UserName}`),
        ...heldList(entities, ['Groups', 'Group'], args).map((g) => `group ${g.GroupName}`),
        ...heldList(entities, ['Roles', 'Role'], args).map((r) => `role ${r.RoleName}`),
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
      for (const v of listAll(['ram', 'ListPolicyVersions', '--PolicyType', 'Custom', '--PolicyName', name], ['PolicyVersions', 'PolicyVersion'], () => undefined)) {
        if (!v.IsDefaultVersion) aliyun('ram', 'DeletePolicyVersion', '--PolicyName', name, '--VersionId', v.VersionId);
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
  for (const rule of rules.filter((r) => ours(r, r.RuleName) && !keep.has(r.RuleName))) {
    attempt(`EventBridge rule ${rule.RuleName} of bus ${plan.bus}`, () => {
      const at = [...bus, '--RuleName', rule.RuleName];
      const targets = listAll(['eventbridge', 'ListTargets', ...at, '--Limit', '100'], ['Data', 'Targets'], busPages);
      if (targets.length > 0) aliyun('eventbridge', 'DeleteTargets', ...at, '--TargetIds', JSON.stringify(targets.map((t) => t.Id)));
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
    console.log(`left EventBridge bus ${plan.bus}: no longer in the package, but it has rules: ${left.map((r) => r.RuleName).join(', ')}`);
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
