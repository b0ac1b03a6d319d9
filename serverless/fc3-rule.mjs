// Copied to dist/fc3/rule.mjs by `npm run package`. eventbridge.sh runs it for a rule of the
// service's bus (prune.json's `bus`) that exists already
// (`node rule.mjs compare <rule name> <pattern file> <targets JSON> enabled|disabled`): it prints
// what differs from the rule as it is, `pattern` (another filter pattern, as JSON: keys in any
// order, spacing aside), `targets` (one of ours missing, or not as we would put it) and/or `status`,
// or `same`, so that a re-run with nothing changed calls no UpdateRule, PutTargets nor
// EnableRule/DisableRule. A rule of that name without the scripts' mark (the description) is not
// theirs: it stops eventbridge.sh, naming it and the command that hands it over, and nothing is
// written. A read that fails exits 1 with the CLI's error.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { aliyunPart, field, listAll } from './fc3-aliyun.mjs';
import { assertOurs, normalisedJson, ownedResource } from './fc3-owned.mjs';

const plan = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'prune.json'), 'utf8'));

/**
 * The target as it is holds what we would put: the same type, endpoint and retry strategy, and the
 * same parameters (by ResourceKey, in any order; a Value only where we send one). Fields we do not
 * send (a dead-letter queue, the reply's DetailMap) are not ours to compare.
 */
function sameTarget(want, have) {
  if (!have) return false;
  for (const key of ['Type', 'Endpoint', 'PushRetryStrategy']) if (String(field(have, key) ?? '') !== String(want[key] ?? '')) return false;
  const params = field(have, 'ParamList');
  const haveParams = Array.isArray(params) ? params : [];
  if (haveParams.length !== want.ParamList.length) return false;
  return want.ParamList.every((p) => {
    const h = haveParams.find((x) => field(x, 'ResourceKey') === p.ResourceKey);
    return h !== undefined && field(h, 'Form') === p.Form && (p.Value === undefined || String(field(h, 'Value') ?? '') === p.Value);
  });
}

const [what, name, file, targetsText, status] = process.argv.slice(2);
try {
  if (what !== 'compare' || !name || !file || targetsText === undefined || !['enabled', 'disabled'].includes(status)) {
    throw new Error(`usage: node rule.mjs compare <rule name> <pattern file> <targets JSON> enabled|disabled (got ${JSON.stringify(process.argv.slice(2))})`);
  }
  const at = ['--region', plan.region, '--EventBusName', plan.bus, '--RuleName', name];
  const wantedPattern = normalisedJson(readFileSync(file, 'utf8'));
  const wantedTargets = JSON.parse(targetsText);
  let rule;
  let targets;
  try {
    rule = aliyunPart('Data', 'eventbridge', 'GetRule', ...at);
  } catch (e) {
    throw new Error(`EventBridge rule ${name} of bus ${plan.bus} could not be created (the error above) nor read: ${e.message}`, { cause: e });
  }
  const mark = plan.mark + name;
  assertOurs({ ...ownedResource('rule', name, mark, plan), description: field(rule, 'Description') });
  try {
    const pages = (r) => (r.Data?.NextToken ? ['--NextToken', String(r.Data.NextToken)] : undefined);
    targets = listAll(['eventbridge', 'ListTargets', ...at, '--Limit', '100'], ['Data', 'Targets'], pages);
  } catch (e) {
    throw new Error(`EventBridge rule ${name} of bus ${plan.bus}: could not list its targets: ${e.message}`, { cause: e });
  }
  const differs = [];
  if (wantedPattern === undefined || normalisedJson(String(field(rule, 'FilterPattern') ?? '')) !== wantedPattern) differs.push('pattern');
  if (!wantedTargets.every((t) => sameTarget(t, targets.find((h) => field(h, 'Id') === t.Id)))) differs.push('targets');
  if (String(field(rule, 'Status') ?? '').toUpperCase() !== (status === 'enabled' ? 'ENABLE' : 'DISABLE')) differs.push('status');
  console.log(differs.length > 0 ? differs.join(' ') : 'same');
} catch (e) {
  console.error(`eventbridge.sh: ${e.message}`);
  process.exit(1);
}
