// Copied to dist/fc3/policy.mjs by `npm run package`. ram.sh runs it for a policy that exists
// already (`node policy.mjs compare <policy name> <document file> <description>`): it prints
// `document` when its default version holds another document (as JSON: keys in any order, spacing
// aside), else `same`, so that a re-run with nothing changed writes nothing (no policy version added:
// RAM keeps at most 5). A policy of that name without the scripts' mark (the description) is not
// theirs: it stops ram.sh, naming it and the command that hands it over, and nothing is written. A
// read that fails exits 1 with the CLI's error: ram.sh stops there rather than guess.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { aliyunPart } from './fc3-aliyun.mjs';
import { assertOurs, normalisedJson, ownedResource } from './fc3-owned.mjs';

const [what, name, file, description] = process.argv.slice(2);
try {
  if (what !== 'compare' || !name || !file || description === undefined) {
    throw new Error(`usage: node policy.mjs compare <policy name> <document file> <description> (got ${JSON.stringify(process.argv.slice(2))})`);
  }
  const wanted = normalisedJson(readFileSync(file, 'utf8'));
  let policy;
  try {
    policy = aliyunPart('Policy', 'ram', 'GetPolicy', '--PolicyType', 'Custom', '--PolicyName', name);
  } catch (e) {
    throw new Error(`policy ${name}: could not read its default version: ${e.message}`, { cause: e });
  }
  assertOurs({ ...ownedResource('policy', name, description), description: policy.Description });
  let current;
  try {
    const id = policy.DefaultVersion;
    if (typeof id !== 'string' || id === '') throw new Error(`aliyun ram GetPolicy: its reply names no default version of policy ${name}`);
    current = aliyunPart('PolicyVersion', 'ram', 'GetPolicyVersion', '--PolicyType', 'Custom', '--PolicyName', name, '--VersionId', id).PolicyDocument;
  } catch (e) {
    throw new Error(`policy ${name}: could not read its default version: ${e.message}`, { cause: e });
  }
  console.log(wanted === undefined || normalisedJson(current ?? '') !== wanted ? 'document' : 'same');
} catch (e) {
  console.error(`ram.sh: ${e.message}`);
  process.exit(1);
}
