// FC 3.0 route: dist/s.yaml for Serverless Devs (`s deploy` with the fc3 component), generated from
// the same resolved serverless.yml the FC 2.0 (serverless@3 + aliyun plugin) route packages.
// FC 3.0 has no services: each function carries its own role, and is named <service>-<stage>-<key>
// so stages can live side by side in one region. What s.yaml cannot hold (RAM roles and policies,
// the EventBridge custom bus and its rules) is written beside it under dist/fc3/, with the aliyun
// CLI commands that create it (see README "Deploying"). Facts: /work/shared/notes/fc3.md.
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { fitName, mergeEnvironment, mnsTriggerConfig, normalizeStatements } from './templates.js';

export const FC3_EDITION = '3.0.0';

/**
 * FC 3.0 function name: letters, digits, `_`, `-`; 1..64 (FC 2.0's 128 is a service's limit, not a
 * function's); starts with a letter or `_`. Longer, it is cut and ends in a hash of the full name.
 */
export const fc3FunctionName = (service, stage, key) => fitName(`${service}-${stage}-${key}`, 64);

/** RAM role names: 1..64 of letters, digits, `.`, `-`. */
export const fc3RoleName = (service, stage, key) => fitName(`${service}-${stage}-${key}`, 64);

/**
 * The description ram.sh and eventbridge.sh give what they make (roles, policies, rules): this, then the
 * resource's own name. It is how a re-run tells what it made for this service and stage, to update
 * it or remove what the package no longer has (prune.mjs), from anything else in the account: one of
 * the same name without it is not taken over (fc3-owned.mjs).
 */
export const ownerMark = (service, stage) => `cams-fc deploy ${service}/${stage}: `;

/** The role FC assumes to run a function, and where its log lines go (logConfig: auto). */
const FC_TRUST_POLICY = {
  Version: '1',
  Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['fc.aliyuncs.com'] } }],
};
/**
 * FC writes a function's log lines to SLS with the function's own role. On `*`: with logConfig
 * auto FC picks the log project's name at deploy, so packaging cannot name it, and one policy per
 * service and stage (RAM names are account-wide) cannot pin a region either.
 */
const LOG_STATEMENTS = [{ Effect: 'Allow', Action: ['log:PostLogStoreLogs'], Resource: ['*'] }];

/**
 * serverless.yml grants fc:InvokeFunction on FC 2.0 ARNs (`services/<svc>/functions/<fn>`, as the
 * FC 2.0 route needs). FC 3.0 names functions without a service: `functions/<fc3 name>` (and
 * `/*` for its versions and aliases). Other resources pass unchanged.
 */
export function fc3Resource(resource, names) {
  const m = /^acs:fc:([^:]*):([^:]*):services\/[^/]+\/functions\/([^/]+)$/.exec(resource);
  if (!m) return [resource];
  const [, region, account, fn] = m;
  const name = names[fn] ?? fn;
  return [`acs:fc:${region}:${account}:functions/${name}`, `acs:fc:${region}:${account}:functions/${name}/*`];
}

function fc3Statements(statements, names) {
  return normalizeStatements(statements).map((s) => ({ ...s, Resource: [...new Set(s.Resource.flatMap((r) => fc3Resource(r, names)))] }));
}

/**
 * `X_FUNCTION: onboarding` names a function of this service to call (FC 2.0 name = key); on
 * FC 3.0 it must carry that function's FC 3.0 name.
 */
function fc3Environment(env, names) {
  const out = {};
  for (const [k, v] of Object.entries(env)) out[k] = k.endsWith('_FUNCTION') && names[v] ? names[v] : v;
  return out;
}

/** Each function's FC 3.0 name, by its key. */
const fc3Names = (svc) => Object.fromEntries(Object.keys(svc.functions).map((k) => [k, fc3FunctionName(svc.service, svc.stage, k)]));

/**
 * Each function's environment as dist/s.yaml holds it, by key: FC 3.0 counts it against its 4 KB,
 * and a `*_FUNCTION` there is longer than in the FC 2.0 templates (the deploy checks weigh both).
 * @param {{service: string, stage: string, environment?: Record<string, unknown>, functions: Record<string, any>}} svc
 * @returns {Record<string, Record<string, string>>}
 */
export function fc3Environments(svc) {
  const names = fc3Names(svc);
  return Object.fromEntries(Object.keys(svc.functions).map((k) => [k, fc3Environment(mergeEnvironment(svc.environment, svc.functions[k]?.environment), names)]));
}

const upper = (m) => String(m).toUpperCase();

/**
 * Every function's `vpcConfig`, from serverless.yml's `custom.fc3.vpcConfig` (VPC_ID, VSWITCH_IDS,
 * SECURITY_GROUP_ID): an Alibaba Cloud Redis instance answers on its VPC address only, and a
 * function without a VPC cannot reach it. All three empty: no VPC. Some but not all: an error.
 * @param {{vpcId?: unknown, vSwitchIds?: unknown, securityGroupId?: unknown} | undefined} v
 */
export function fc3VpcConfig(v) {
  const vpcId = String(v?.vpcId ?? '').trim();
  const securityGroupId = String(v?.securityGroupId ?? '').trim();
  const raw = v?.vSwitchIds ?? '';
  const vSwitchIds = (Array.isArray(raw) ? raw : String(raw).split(',')).map((s) => String(s).trim()).filter((s) => s !== '');
  if (!vpcId && !securityGroupId && vSwitchIds.length === 0) return undefined;
  const missing = [!vpcId && 'VPC_ID (vpcId)', vSwitchIds.length === 0 && 'VSWITCH_IDS (vSwitchIds)', !securityGroupId && 'SECURITY_GROUP_ID (securityGroupId)'].filter(Boolean);
  if (missing.length > 0) throw new Error(`cams-fc: custom.fc3.vpcConfig is incomplete: ${missing.join(', ')} empty (set all three, or none for no VPC)`);
  return { vpcId, vSwitchIds, securityGroupId };
}

/**
 * The FC 3.0 deployment of a resolved service.
 * @param {{service: string, stage: string, region: string, runtime: string, memorySize?: number,
 *   timeout?: number, environment?: Record<string, unknown>, functions: Record<string, any>,
 *   vpcConfig?: {vpcId?: unknown, vSwitchIds?: unknown, securityGroupId?: unknown}}} svc
 * @returns {{sYaml: any, roles: any[], eventRules: any[], routes: any[], bus: string, logsPolicyName: string}}
 */
export function fc3Deployment(svc) {
  const { service, stage, region } = svc;
  const keys = Object.keys(svc.functions);
  const names = fc3Names(svc);
  const environments = fc3Environments(svc);
  const resources = {};
  const roles = [];
  const eventRules = [];
  const routes = [];
  const bus = fitName(`${service}-${stage}`, 127);
  const vpcConfig = fc3VpcConfig(svc.vpcConfig);

  for (const key of keys) {
    const fn = svc.functions[key];
    const name = names[key];
    const role = {
      key,
      roleName: fc3RoleName(service, stage, key),
      trustPolicy: FC_TRUST_POLICY,
      policyName: fitName(`${service}-${stage}-${key}`, 128),
      policy: { Version: '1', Statement: fc3Statements(fn.ramRoleStatements ?? [], names) },
    };
    roles.push(role);

    const triggers = fc3Triggers(key, fn, name, { region, bus, routes, eventRules });

    const props = {
      region,
      functionName: name,
      ...(fn.description ? { description: fn.description } : {}),
      runtime: svc.runtime,
      code: `./${key}`,
      handler: fn.handler,
      memorySize: fn.memorySize ?? svc.memorySize,
      timeout: fn.timeout ?? svc.timeout,
      internetAccess: true,
      // a copy each: one shared object would be written as a YAML anchor and aliases
      ...(vpcConfig ? { vpcConfig: { ...vpcConfig, vSwitchIds: [...vpcConfig.vSwitchIds] } } : {}),
      role: `acs:ram::\${config('AccountID')}:role/${role.roleName}`,
      logConfig: 'auto',
      environmentVariables: environments[key],
      ...(triggers.length > 0 ? { triggers } : {}),
    };
    if (props.memorySize === undefined) delete props.memorySize;
    if (props.timeout === undefined) delete props.timeout;
    resources[key] = { component: 'fc3', props };
  }
  const sYaml = { edition: FC3_EDITION, name: `${service}-${stage}`, access: 'default', resources };
  return { sYaml, roles, eventRules, routes, bus, logsPolicyName: fitName(`${service}-${stage}-logs`, 128), mark: ownerMark(service, stage) };
}

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** One of ram.sh's own writes, judged by its reply as well as the CLI's exit code (write.mjs). */
const ramWrite = (action) => `node ./write.mjs ram ${action}`;

/**
 * CreatePolicy, or when it exists a new default version only for a document that changed (policy.mjs
 * reads it: one not marked as ours, or a failed read, stops the script); nothing at all when it is
 * as it should be.
 */
const createOrUpdatePolicy = (name, file, mark) =>
  `${ramWrite('CreatePolicy')} --PolicyName ${q(name)} --Description ${q(mark + name)} --PolicyDocument "$(cat ${file})" || { ` +
  `policy_now="$(node ./policy.mjs compare ${q(name)} ${file} ${q(mark + name)})"; ` +
  `case "$policy_now" in *document*) ${ramWrite('CreatePolicyVersion')} --PolicyName ${q(name)} --SetAsDefault true --RotateStrategy DeleteOldestNonDefaultVersionWhenLimitExceeded --PolicyDocument "$(cat ${file})";; esac; }`;

/**
 * CreateRole, or when it exists UpdateRole only for a trust policy that changed (role.mjs reads it:
 * one not marked as ours, or a failed read, stops the script).
 */
const createOrUpdateRole = (name, file, mark) =>
  `${ramWrite('CreateRole')} --RoleName ${q(name)} --Description ${q(mark + name)} --AssumeRolePolicyDocument "$(cat ${file})" || { ` +
  `role_now="$(node ./role.mjs compare ${q(name)} ${file} ${q(mark + name)})"; ` +
  `case "$role_now" in *trust*) ${ramWrite('UpdateRole')} --RoleName ${q(name)} --NewAssumeRolePolicyDocument "$(cat ${file})";; esac; }`;

/**
 * AttachPolicyToRole, or proof that it is attached already (a re-run): attached.mjs reads the role's
 * policies from the reply (one it cannot read stops the script); not attached, the script stops too.
 */
const attachPolicy = (policy, role) =>
  `${ramWrite('AttachPolicyToRole')} --PolicyType Custom --PolicyName ${q(policy)} --RoleName ${q(role)} || { ` +
  `attached_now="$(node ./attached.mjs ${q(role)} ${q(policy)})"; ` +
  `[ "$attached_now" = attached ] || { echo ${q(`ram.sh: policy ${policy} could not be attached to role ${role} (the error above), and is not attached`)} >&2; exit 1; }; }`;

/**
 * Into the script's own folder, whatever the caller's: with CDPATH cleared, as a relative
 * `dist/fc3` is looked up in CDPATH's folders first, and another checkout's dist/fc3 there would
 * give this script its documents and prune.json.
 */
const SCRIPT_DIR = 'CDPATH= cd -- "$(dirname -- "$0")"';

/**
 * What both scripts do first, once in their own folder: find the two tools they call, before
 * changing anything (node runs the helpers, from claims.mjs first to prune.mjs last: without it the script
 * would stop at its first helper, or, where a create needs none, only after writing),
 * and from then on, stopped by a failed call, say where they stopped and that a re-run goes on.
 * `step` names what is being done; `finish` ends a run that got through.
 */
function scriptStart(script) {
  return [
    `command -v aliyun >/dev/null 2>&1 || { echo "${script}: the aliyun CLI is not on PATH: install it and set up your AccessKey (aliyun configure); nothing was done" >&2; exit 127; }`,
    `command -v node >/dev/null 2>&1 || { echo "${script}: node is not on PATH (it runs the helpers beside this script, from claims.mjs first to prune.mjs last); nothing was done" >&2; exit 127; }`,
    "step='the start'",
    `trap 'code=$?; [ "$code" -eq 0 ] || echo "${script} stopped (exit $code) at $step: the error above says why; what came before is done. Fix the cause and run ${script} again: it updates what exists and goes on." >&2' EXIT`,
  ];
}
/**
 * claims.mjs looks, before anything is written, for every resource of the names the script makes
 * that is not this deployment's, and stops it naming them all: an upgrade from scripts without the
 * mark hands them over in one go, not one per run.
 */
const CLAIMS_STEP = "'the check of what exists under its names (nothing written yet)'";
const claimsStep = (what) => [`step=${CLAIMS_STEP}`, `node ./claims.mjs ${what}`];
const scriptEnd = (script) => `echo '${script}: done (what existed was checked: only what differed was written)'`;

/** The aliyun CLI commands that create the roles and attach their policies (run before `s deploy`). */
export function ramScript(deployment) {
  const lines = [
    '#!/bin/sh',
    '# Generated by `npm run package`: the RAM roles dist/s.yaml refers to. Run before `s deploy`.',
    'set -e',
    SCRIPT_DIR,
    ...scriptStart('ram.sh'),
    // Before any write: every role and policy of its names that is not this deployment's, named at once.
    ...claimsStep('ram'),
    // Each create falls back to reading what exists, and writes only what differs from the documents
    // as they are now; when both fail (no permission, say), set -e stops the script.
    `step=${q(`policy ${deployment.logsPolicyName}`)}`,
    createOrUpdatePolicy(deployment.logsPolicyName, 'ram/logs.policy.json', deployment.mark),
  ];
  for (const r of deployment.roles) {
    const file = `ram/${r.roleName}`;
    lines.push(
      '',
      `step=${q(`role ${r.roleName}`)}`,
      createOrUpdateRole(r.roleName, `${file}.trust.json`, deployment.mark),
    );
    lines.push(attachPolicy(deployment.logsPolicyName, r.roleName));
    if (r.policy.Statement.length === 0) {
      // No action of its own (now): a policy an earlier run attached would keep granting the old ones.
      // attached.mjs reads it from the reply: one it cannot read stops the script, not "not attached".
      lines.push(
        `attached_now="$(node ./attached.mjs ${q(r.roleName)} ${q(r.policyName)})"`,
        `if [ "$attached_now" = attached ]; then ${ramWrite('DetachPolicyFromRole')} --PolicyType Custom --PolicyName ${q(r.policyName)} --RoleName ${q(r.roleName)}; fi`,
      );
      continue;
    }
    lines.push(
      createOrUpdatePolicy(r.policyName, `${file}.policy.json`, deployment.mark),
      attachPolicy(r.policyName, r.roleName),
    );
  }
  // Last, once everything the package has is in place: the roles and policies of functions it no longer has.
  lines.push('', "step='removing what the package no longer has'", 'node ./prune.mjs ram', scriptEnd('ram.sh'));
  return lines.join('\n') + '\n';
}

/** EventBridge targets of one rule; `${ACCOUNT_ID}` is filled in by eventbridge.sh. */
export function eventTargets(rule, region) {
  return [
    {
      Id: fitName(rule.function, 64),
      Type: 'acs.fc.function',
      Endpoint: `acs:fc:${region}:\${ACCOUNT_ID}:functions/${rule.function}`,
      PushRetryStrategy: 'BACKOFF_RETRY',
      ParamList: [
        { ResourceKey: 'functionName', Form: 'CONSTANT', Value: rule.function },
        { ResourceKey: 'Qualifier', Form: 'CONSTANT', Value: 'LATEST' },
        { ResourceKey: 'InvocationType', Form: 'CONSTANT', Value: rule.invocationType },
        { ResourceKey: 'Body', Form: 'ORIGINAL' },
      ],
    },
  ];
}

/** The custom bus and its rules (run after `s deploy`, once the functions exist). */
export function eventBridgeScript(deployment, region) {
  const lines = [
    '#!/bin/sh',
    '# Generated by `npm run package`: the EventBridge custom bus and rules for events our code publishes. Run after `s deploy`.',
    'set -e',
    SCRIPT_DIR,
    ': "${ACCOUNT_ID:?set ACCOUNT_ID to your Alibaba Cloud account id}"',
    // It goes into each target's function ARN: anything but the account's digits (an alias, a RAM
    // user id, a stray space) would make targets that reach no function, or break the sed below.
    `case "$ACCOUNT_ID" in *[!0-9]*) echo "ACCOUNT_ID must be your Alibaba Cloud account id, digits only (got '$ACCOUNT_ID')" >&2; exit 2 ;; esac`,
    ...scriptStart('eventbridge.sh'),
    // Before any write: the bus and every rule of its names that is not this deployment's, named at once.
    ...claimsStep('eventbridge'),
  ];
  if (deployment.eventRules.length > 0) {
    // Made with the stage's mark (prune.mjs deletes it, once no rule is left on it, only with that
    // mark). Refused because it exists, it is used only if it bears that mark (a re-run: nothing to
    // write); one of that name not marked is someone else's, and bus.mjs stops the script, naming it.
    // Refused for another reason (credentials, permissions), the read fails too and the script stops.
    const bus = `--region ${region} --EventBusName ${q(deployment.bus)} --Description ${q(deployment.mark + deployment.bus)}`;
    lines.push(`step=${q(`bus ${deployment.bus}`)}`, `node ./write.mjs eventbridge CreateEventBus ${bus} || node ./bus.mjs check`);
  }
  for (const r of deployment.eventRules) {
    const file = `eventbridge/${r.ruleName}`;
    const at = `--region ${region} --EventBusName ${q(r.bus)} --RuleName ${q(r.ruleName)}`;
    const targets = `"$(sed "s/\\\${ACCOUNT_ID}/$ACCOUNT_ID/g" ${file}.targets.json)"`;
    // A rule of that name exists (a re-run): rule.mjs reads it (one not marked as ours, or a failed
    // read, stops the script) and says what differs; only that is written. A new rule is enabled.
    lines.push(
      `step=${q(`rule ${r.ruleName} of bus ${r.bus}`)}`,
      `if node ./write.mjs eventbridge CreateRule ${at} --Description ${q(deployment.mark + r.ruleName)} --FilterPattern "$(cat ${file}.pattern.json)" --EventTargets ${targets}; ` +
        `then rule_now=${r.enabled ? "'created'" : "'created status'"}; ` +
        `else rule_now="$(node ./rule.mjs compare ${q(r.ruleName)} ${file}.pattern.json ${targets} ${r.enabled ? 'enabled' : 'disabled'})"; fi`,
      `case "$rule_now" in *pattern*) node ./write.mjs eventbridge UpdateRule ${at} --FilterPattern "$(cat ${file}.pattern.json)";; esac`,
      `case "$rule_now" in *targets*) node ./write.mjs eventbridge PutTargets ${at} --Targets ${targets};; esac`,
      `case "$rule_now" in *status*) node ./write.mjs eventbridge ${r.enabled ? 'EnableRule' : 'DisableRule'} ${at};; esac`,
    );
  }
  // Last: the rules of this bus it made for events the package no longer has.
  lines.push("step='removing what the package no longer has'", 'node ./prune.mjs eventbridge', scriptEnd('eventbridge.sh'));
  return lines.join('\n') + '\n';
}

/**
 * Writes dist/s.yaml and dist/fc3/ (ram/<role>.{trust,policy}.json, ram.sh, eventbridge.sh,
 * prune.mjs + prune.json, claims.mjs, policy.mjs, role.mjs, rule.mjs, bus.mjs, write.mjs, attached.mjs and the fc3-aliyun.mjs and fc3-owned.mjs
 * they import, routes.json) and a .fcignore in each dist/<function>/ so `s deploy` ships what the FC 2.0 zip
 * ships. Returns the paths written.
 */
export function writeFc3(distDir, deployment, region) {
  const out = join(distDir, 'fc3');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'ram'), { recursive: true });
  const header = '# Generated by `npm run package` from serverless.yml: do not edit. Deploy: see README "Deploying".\n';
  const sYamlFile = join(distDir, 's.yaml');
  // The functions' secrets are in it (API_KEYS, sink webhooks, STORE_URL's password): the owner's
  // alone, as a file written before was too (writeFileSync's mode applies only to a new file).
  writeFileSync(sYamlFile, header + toYaml(deployment.sYaml, { lineWidth: 0 }), { mode: 0o600 });
  chmodSync(sYamlFile, 0o600);
  for (const r of deployment.roles) {
    writeFileSync(join(out, 'ram', `${r.roleName}.trust.json`), JSON.stringify(r.trustPolicy, null, 2) + '\n');
    writeFileSync(join(out, 'ram', `${r.roleName}.policy.json`), JSON.stringify(r.policy, null, 2) + '\n');
  }
  writeFileSync(join(out, 'ram', 'logs.policy.json'), JSON.stringify({ Version: '1', Statement: LOG_STATEMENTS }, null, 2) + '\n');
  mkdirSync(join(out, 'eventbridge'), { recursive: true });
  for (const r of deployment.eventRules) {
    writeFileSync(join(out, 'eventbridge', `${r.ruleName}.pattern.json`), r.filterPattern + '\n');
    writeFileSync(join(out, 'eventbridge', `${r.ruleName}.targets.json`), JSON.stringify(eventTargets(r, region)) + '\n');
  }
  writeFileSync(join(out, 'ram.sh'), ramScript(deployment), { mode: 0o755 });
  writeFileSync(join(out, 'eventbridge.sh'), eventBridgeScript(deployment, region), { mode: 0o755 });
  writeFileSync(join(out, 'routes.json'), JSON.stringify(deployment.routes, null, 2) + '\n');
  // What prune.mjs keeps: everything ram.sh and eventbridge.sh make now (a policy-less role's own policy is not).
  const prune = {
    mark: deployment.mark,
    region,
    bus: deployment.bus,
    roles: deployment.roles.map((r) => r.roleName),
    policies: [deployment.logsPolicyName, ...deployment.roles.filter((r) => r.policy.Statement.length > 0).map((r) => r.policyName)],
    rules: deployment.eventRules.map((r) => r.ruleName),
  };
  writeFileSync(join(out, 'prune.json'), JSON.stringify(prune, null, 2) + '\n');
  const here = dirname(fileURLToPath(import.meta.url));
  copyFileSync(join(here, 'fc3-prune.mjs'), join(out, 'prune.mjs'));
  copyFileSync(join(here, 'fc3-policy.mjs'), join(out, 'policy.mjs'));
  copyFileSync(join(here, 'fc3-role.mjs'), join(out, 'role.mjs'));
  copyFileSync(join(here, 'fc3-rule.mjs'), join(out, 'rule.mjs'));
  copyFileSync(join(here, 'fc3-bus.mjs'), join(out, 'bus.mjs'));
  copyFileSync(join(here, 'fc3-write.mjs'), join(out, 'write.mjs'));
  copyFileSync(join(here, 'fc3-claims.mjs'), join(out, 'claims.mjs'));
  copyFileSync(join(here, 'fc3-attached.mjs'), join(out, 'attached.mjs'));
  // by these names beside them, as beside their sources here
  copyFileSync(join(here, 'fc3-aliyun.mjs'), join(out, 'fc3-aliyun.mjs'));
  copyFileSync(join(here, 'fc3-owned.mjs'), join(out, 'fc3-owned.mjs'));
  for (const key of Object.keys(deployment.sYaml.resources)) {
    writeFileSync(join(distDir, key, '.fcignore'), 'meta.json\n*.map\n.fcignore\n');
  }
  return { sYamlFile, dir: out };
}

/**
 * Removes dist/s.yaml and dist/fc3/: packaging that fails must not leave an earlier stage's
 * deployment where `s deploy -t dist/s.yaml` would take it.
 * @param {string} distDir
 */
export function removeFc3(distDir) {
  rmSync(join(distDir, 's.yaml'), { force: true });
  rmSync(join(distDir, 'fc3'), { recursive: true, force: true });
}

/** What a failed packaging says once it has removed an earlier one (removeEarlierPackaging). */
export const REMOVED_NOTE = '(dist/s.yaml, dist/fc3/ and .serverless/ from an earlier packaging were removed)';

/**
 * Removes both deployments an earlier packaging left in the service folder (dist/s.yaml with
 * dist/fc3/, and .serverless/), so neither can be deployed in place of the stage that failed.
 * @param {string} servicePath
 */
export function removeEarlierPackaging(servicePath) {
  removeFc3(join(servicePath, 'dist'));
  rmSync(join(servicePath, '.serverless'), { recursive: true, force: true });
}

/**
 * Generates, validates and writes the FC 3.0 deployment. Throws, naming every bad path, when the
 * generated s.yaml does not match the fc3 schema; then nothing is written (a stale s.yaml is removed).
 * @param {string} distDir
 * @param {Parameters<typeof fc3Deployment>[0]} svc
 * @param {{generate?: typeof fc3Deployment, validate: (doc: unknown) => string[]}} opts
 */
export function packageFc3(distDir, svc, { generate = fc3Deployment, validate }) {
  let deployment;
  try {
    deployment = generate(svc);
  } catch (error) {
    removeFc3(distDir);
    throw error;
  }
  const problems = validate(deployment.sYaml);
  if (problems.length > 0) {
    removeFc3(distDir);
    throw new Error(`cams-fc: the generated dist/s.yaml does not match the fc3 component schema:\n  ${problems.join('\n  ')}`);
  }
  return { deployment, ...writeFc3(distDir, deployment, svc.region) };
}

/**
 * The trigger's methods: each route's, and HEAD wherever GET is (the functions answer HEAD as GET
 * without the body; uptime checkers probe with it).
 * @param {{method: string}[]} http
 * @returns {string[]}
 */
function triggerMethods(http) {
  const methods = new Set(http.map((e) => upper(e.method)));
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}

/**
 * A function's FC 3.0 triggers from its serverless.yml events; its HTTP routes are added to `routes`
 * and its EventBridge rules (events our own code publishes) to `eventRules`.
 * @param {string} key
 * @param {any} fn
 * @param {string} name
 * @param {{region: string, bus: string, routes: any[], eventRules: any[]}} out
 * @returns {any[]}
 */
function fc3Triggers(key, fn, name, { region, bus, routes, eventRules }) {
  const triggers = [];
  const events = fn.events ?? [];
  const http = events.filter((e) => e.http).map((e) => e.http);
  if (http.length > 0) {
    // one native HTTP trigger per function; the function itself routes and verifies ACS3
    triggers.push({
      triggerName: 'http',
      triggerType: 'http',
      qualifier: 'LATEST',
      triggerConfig: { authType: 'anonymous', disableURLInternet: false, methods: triggerMethods(http) },
    });
    // A custom domain's routes match `*`, not `{id}`: customDomainPath is the path to map there.
    for (const e of http) routes.push({ method: upper(e.method), path: e.path, customDomainPath: e.path.replace(/\{[^/}]+\}/g, '*'), function: name });
  }
  const counts = {};
  const nth = (kind) => {
    counts[kind] = (counts[kind] ?? 0) + 1;
    return counts[kind] === 1 ? kind : `${kind}-${counts[kind]}`;
  };
  for (const event of events) {
    if (event.timer) {
      triggers.push({
        triggerName: nth('timer'),
        triggerType: 'timer',
        qualifier: 'LATEST',
        triggerConfig: { cronExpression: event.timer.cronExpression, enable: event.timer.enable !== false, payload: event.timer.payload ?? '' },
      });
    } else if (event.mns) {
      triggers.push({
        triggerName: nth('mns'),
        triggerType: 'eventbridge',
        qualifier: 'LATEST',
        // FC 2.0's MNS trigger config, with FC 3.0's delivery of the messages as CloudEvents
        triggerConfig: { ...mnsTriggerConfig(event.mns, region), eventSinkConfig: { deliveryOption: { mode: 'event-driven', eventSchema: 'CloudEvents' } } },
      });
    } else if (event.eventbridge) {
      // Events our own code publishes: a rule on the service's custom bus, targeting the
      // function (an eventbridge trigger only sees the default bus of Alibaba Cloud's own events).
      const pattern = JSON.stringify(event.eventbridge.eventRuleFilterPattern);
      eventRules.push({
        bus,
        // Named by position, not by pattern: a changed pattern updates its rule rather than adding one.
        ruleName: fitName(`${key}-events-${eventRules.filter((r) => r.function === name).length + 1}`, 127),
        function: name,
        filterPattern: pattern,
        invocationType: event.eventbridge.asyncInvocationType === true ? 'Async' : 'Sync',
        enabled: event.eventbridge.triggerEnable !== false,
      });
    }
  }
  // eventbridge triggers last: the fc3 component stops deploying a function's triggers at the first
  // eventbridge one that has not changed, so a trigger after it would never be updated.
  return [...triggers.filter((t) => t.triggerType !== 'eventbridge'), ...triggers.filter((t) => t.triggerType === 'eventbridge')];
}
