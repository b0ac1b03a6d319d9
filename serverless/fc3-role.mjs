// Copied to dist/fc3/role.mjs by `npm run package`. ram.sh runs it for a role that exists already
// (`node role.mjs compare <role name> <trust policy file> <description>`): it prints `trust` when the
// role's trust policy is another document (as JSON: keys in any order, spacing aside), else `same`,
// so that a re-run with nothing changed calls no UpdateRole. A role of that name without the
// scripts' mark (the description) is not theirs: it stops ram.sh, naming it and the command that
// hands it over, and nothing is written. A read that fails exits 1 with the CLI's error.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { aliyunPart } from './fc3-aliyun.mjs';
import { assertOurs, normalisedJson, ownedResource } from './fc3-owned.mjs';

const [what, name, file, description] = process.argv.slice(2);
try {
  if (what !== 'compare' || !name || !file || description === undefined) {
    throw new Error(`usage: node role.mjs compare <role name> <trust policy file> <description> (got ${JSON.stringify(process.argv.slice(2))})`);
  }
  const wanted = normalisedJson(readFileSync(file, 'utf8'));
  let role;
  try {
    role = aliyunPart('Role', 'ram', 'GetRole', '--RoleName', name);
  } catch (e) {
    throw new Error(`RAM role ${name} could not be created (the error above) nor read: ${e.message}`, { cause: e });
  }
  assertOurs({ ...ownedResource('role', name, description), description: role.Description });
  console.log(wanted === undefined || normalisedJson(role.AssumeRolePolicyDocument ?? '') !== wanted ? 'trust' : 'same');
} catch (e) {
  console.error(`ram.sh: ${e.message}`);
  process.exit(1);
}
