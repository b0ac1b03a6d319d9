// Copied to dist/fc3/write.mjs by `npm run package`. eventbridge.sh and ram.sh make their own writes
// through it (`node write.mjs eventbridge|ram <Action> <options…>`): one aliyun CLI call, judged by its
// reply as well as its exit code. EventBridge answers a refused call with HTTP 200 and `Success: false`,
// and the CLI exits 0 on it: by the exit code alone, an UpdateRule refused so passed for done, and a
// CreateEventBus or CreateRule refused as "already exists" skipped the check of whose it is (ram.sh's
// writes are judged alike: a create so refused goes on to its read, an attach to its check). A
// PutTargets (or a CreateRule with its targets) may answer Success true and list the targets it could
// not put (`ErrorEntries`, as EventBridge's API names them; `FailedEntries` too): each is a failure,
// named. The reply is printed as the CLI prints it; a failure exits 1, saying why. A create or attach
// the script checks after a refusal, refused as "already exists" (a re-run), exits 1 too but prints
// one calm line instead of the CLI's error: to a user re-running the script, that error read as a failure.
import console from 'node:console';
import process from 'node:process';
import { aliyun } from './fc3-aliyun.mjs';

/**
 * The writes each script follows, when refused, with a check of what is there (role.mjs, policy.mjs,
 * attached.mjs, bus.mjs, rule.mjs): what to say of each when it was refused as already there.
 */
const CHECKED_AFTER = {
  CreateRole: (o) => `RAM role ${o.RoleName} exists; checking it is this deployment's and as the package has it`,
  CreatePolicy: (o) => `RAM policy ${o.PolicyName} exists; checking it is this deployment's and as the package has it`,
  AttachPolicyToRole: (o) => `RAM policy ${o.PolicyName} is attached to role ${o.RoleName} already; checking it`,
  CreateEventBus: (o) => `EventBridge bus ${o.EventBusName} exists; checking it is this deployment's`,
  CreateRule: (o) => `EventBridge rule ${o.RuleName} exists; checking it is this deployment's and as the package has it`,
};
/** RAM's `EntityAlreadyExists.*`, EventBridge's `EventBusAlreadyExist` and `EventRuleAlreadyExisted`, in the CLI's error or the reply's Code. */
const ALREADY_EXISTS = /\b\w*AlreadyExist(s|ed)?\b/;

/** The calm line for a write refused as "already exists" that the script checks next; undefined for any other failure. */
export function alreadyThere(args, error) {
  const say = CHECKED_AFTER[args[1]];
  if (!say || !ALREADY_EXISTS.test(String(error?.message ?? ''))) return undefined;
  const options = {};
  for (let i = 2; i < args.length - 1; i++) if (args[i].startsWith('--')) options[args[i].slice(2)] = args[i + 1];
  return say(options);
}

/** The targets a reply says it could not put: `[{id, code, message}]`, [] when none. */
export function failedEntries(reply) {
  const data = reply?.Data ?? reply ?? {};
  const entries = [data.ErrorEntries, data.FailedEntries].find((e) => Array.isArray(e) && e.length > 0) ?? [];
  const count = Number(data.ErrorEntriesCount ?? data.FailedEntriesCount ?? 0);
  const named = entries.map((e) => ({ id: e?.EntryId ?? e?.TargetId ?? e?.Id ?? 'a target', code: e?.ErrorCode ?? 'no ErrorCode', message: e?.ErrorMessage ?? 'no ErrorMessage' }));
  // A count without the entries still says some failed.
  if (named.length === 0 && count > 0) return [{ id: `${count} target(s)`, code: 'no ErrorCode', message: 'the reply lists none of them' }];
  return named;
}

const args = process.argv.slice(2);
const script = args[0] === 'ram' ? 'ram.sh' : 'eventbridge.sh';
try {
  if (!['eventbridge', 'ram'].includes(args[0]) || !args[1]) throw new Error(`usage: node write.mjs eventbridge|ram <Action> <options…> (got ${JSON.stringify(args)})`);
  let reply;
  try {
    reply = aliyun(...args);
  } catch (e) {
    const calm = alreadyThere(args, e);
    if (calm === undefined) throw e;
    console.log(`${script}: ${calm}`);
    process.exit(1);
  }
  console.log(JSON.stringify(reply, null, 2));
  const failed = failedEntries(reply);
  if (failed.length > 0) {
    throw new Error(`aliyun ${args.slice(0, 2).join(' ')}: its reply says Success but ${failed.length === 1 ? 'a target was' : 'targets were'} not put: ${failed.map((f) => `${f.id} (${f.code}: ${f.message})`).join('; ')}`);
  }
} catch (e) {
  console.error(`${script}: ${e.message}`);
  process.exit(1);
}
