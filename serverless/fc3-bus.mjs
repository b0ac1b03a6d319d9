// Copied to dist/fc3/bus.mjs by `npm run package`. eventbridge.sh runs it when CreateEventBus was
// refused (`node bus.mjs check`): the service's bus (prune.json's `bus`) is taken as this
// deployment's only when its description is the scripts' mark for it. A bus of that name made by
// hand, by another tool, or by a version of the scripts from before the mark is not claimed (the
// rules and targets put on it, and prune.mjs deleting it later, would be ours on someone else's bus):
// the script stops, naming the bus and what to do. Nothing is written here.
import console from 'node:console';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { aliyunPart, field } from './fc3-aliyun.mjs';
import { assertOurs, ownedResource } from './fc3-owned.mjs';

const plan = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'prune.json'), 'utf8'));
const mark = plan.mark + plan.bus;

try {
  if (process.argv[2] !== 'check') throw new Error(`usage: node bus.mjs check (got ${JSON.stringify(process.argv.slice(2))})`);
  let bus;
  try {
    bus = aliyunPart('Data', 'eventbridge', 'GetEventBus', '--region', plan.region, '--EventBusName', plan.bus);
  } catch (e) {
    throw new Error(`EventBridge bus ${plan.bus} could not be created (the error above) nor read: ${e.message}`, { cause: e });
  }
  assertOurs({ ...ownedResource('bus', plan.bus, mark, plan), description: field(bus, 'Description') });
  console.log(`EventBridge bus ${plan.bus}: this deployment's already`);
} catch (e) {
  console.error(`eventbridge.sh: ${e.message}`);
  process.exit(1);
}
