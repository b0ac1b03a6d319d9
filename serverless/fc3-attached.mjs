// Copied to dist/fc3/attached.mjs by `npm run package`. ram.sh runs it to tell whether a policy is
// attached to a role (`node attached.mjs <role name> <policy name>`): after an AttachPolicyToRole that
// was refused (a re-run: "already exists"), and before detaching the policy of a function left with
// no action of its own. It prints `attached` or `not attached`, read from ListPoliciesForRole's
// reply as JSON: a reply without `Policies` (or one that says Success false, exit 0) is a failure
// naming the call, and exits 1, so that ram.sh stops there rather than take the policy for not
// attached (an old grant left on the role). Ours is a Custom policy: a System policy of the same
// name attached to the role is not it (taken for it, an attach refused for another reason passed, and
// a detach of ours was tried and failed). Nothing is written here.
import console from 'node:console';
import process from 'node:process';
import { field, listAll } from './fc3-aliyun.mjs';

const [role, policy] = process.argv.slice(2);
try {
  if (!role || !policy || process.argv.length !== 4) throw new Error(`usage: node attached.mjs <role name> <policy name> (got ${JSON.stringify(process.argv.slice(2))})`);
  let attached;
  try {
    // Not paged: RAM lists a role's policies in one reply.
    attached = listAll(['ram', 'ListPoliciesForRole', '--RoleName', role], ['Policies', 'Policy'], () => undefined);
  } catch (e) {
    throw new Error(`RAM role ${role}: could not tell whether policy ${policy} is attached to it: ${e.message}`, { cause: e });
  }
  console.log(attached.some((p) => field(p, 'PolicyName') === policy && field(p, 'PolicyType') === 'Custom') ? 'attached' : 'not attached');
} catch (e) {
  console.error(`ram.sh: ${e.message}`);
  process.exit(1);
}
