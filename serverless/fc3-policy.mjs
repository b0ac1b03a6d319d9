// Copied to dist/fc3/policy.mjs by `npm run package`. ram.sh runs it for a policy that exists
// already (`node policy.mjs compare <policy name> <document file> <description>`): it prints what
// differs from the policy as it is, `document` (its default version holds another document; as
// JSON: keys in any order, spacing aside) and/or `description`, or `same`, so that a re-run with
// nothing changed writes nothing (no policy version added: RAM keeps at most 5). A read that fails
// exits 1 with the CLI's error: ram.sh stops there rather than guess.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { aliyun } from './fc3-aliyun.mjs';

/** The document as JSON with every object's keys sorted; undefined when it is not JSON. */
function normalised(text) {
  const sorted = (v) => (Array.isArray(v) ? v.map(sorted) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  for (const candidate of [text, safeDecode(text)]) {
    try {
      return JSON.stringify(sorted(JSON.parse(candidate)));
    } catch {
      // not JSON as it is: RAM may hand it back URL-encoded
    }
  }
  return undefined;
}

function safeDecode(text) {
  try {
    return decodeURIComponent(String(text));
  } catch {
    return text;
  }
}

const [what, name, file, description] = process.argv.slice(2);
try {
  if (what !== 'compare' || !name || !file || description === undefined) {
    throw new Error(`usage: node policy.mjs compare <policy name> <document file> <description> (got ${JSON.stringify(process.argv.slice(2))})`);
  }
  const wanted = normalised(readFileSync(file, 'utf8'));
  const policy = aliyun('ram', 'GetPolicy', '--PolicyType', 'Custom', '--PolicyName', name);
  const id = policy.Policy?.DefaultVersion;
  if (typeof id !== 'string' || id === '') throw new Error(`aliyun ram GetPolicy: its reply names no default version of policy ${name}`);
  const current = aliyun('ram', 'GetPolicyVersion', '--PolicyType', 'Custom', '--PolicyName', name, '--VersionId', id).PolicyVersion?.PolicyDocument;
  const differs = [];
  if (wanted === undefined || normalised(current ?? '') !== wanted) differs.push('document');
  // Marked by an earlier version of ram.sh (or not at all): the mark is what prune.mjs goes by.
  if ((policy.Policy?.Description ?? '') !== description) differs.push('description');
  console.log(differs.length > 0 ? differs.join(' ') : 'same');
} catch (e) {
  console.error(`policy ${name}: could not read its default version: ${e.message}`);
  process.exit(1);
}
