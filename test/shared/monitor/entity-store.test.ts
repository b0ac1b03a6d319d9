/**
 * The indexes beside an entity (owed, silenced, held) are written after the entity, so a store that
 * goes away between the two loses the marker; the retry of that write, which changes nothing in the
 * entity, must still write it, or the index never names the entity (until a round's re-index).
 */
import { describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { HELD_PREFIX, OWED_PREFIX, SILENCED_PREFIX, updateEntity } from '../../../shared/monitor/entity-store.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { openStore } from '../../../shared/store/index.ts';
import { storeWith } from '../../support/store.ts';

const subject: AlertSubject = { nodeType: 'phone', custSpaceId: 'cs', wabaId: 'w1', phoneNumber: '8613800000001', entityType: 'PHONE_NUMBER' };
const fp = fingerprintOf(subject);
const blocked = (): EntityState => evaluate(undefined, { subject, status: 'BLOCKED', errors: [] }, { now: 1_700_000_000_000, round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks: ['s'] })!;

describe.each([
  ['owed', OWED_PREFIX, (e: EntityState) => e, 1],
  ['silenced', SILENCED_PREFIX, (e: EntityState) => ({ ...e, silenced: { silenceId: 'sil-1', at: 1 } }) as EntityState, 1],
  ['held', HELD_PREFIX, (e: EntityState) => ({ ...e, held: 1 }) as EntityState, 'waba:w1'],
] as const)('the %s marker', (_name, prefix, shape, value) => {
  it('lost when the store failed right after the entity write: written by the retry, which changes nothing else', async () => {
    const store = await openStore('memory:');
    let failed = false;
    const blipping = storeWith(store, {
      put: async (k, v, o) => {
        if (k.startsWith(prefix) && !failed) {
          failed = true;
          throw new Error('store went away');
        }
        return store.put(k, v, o);
      },
    });
    const state = shape(blocked());
    await expect(updateEntity(blipping, fp, () => state)).rejects.toThrow('store went away');
    expect(await store.get(prefix + fp)).toBeUndefined();
    // The retry (CAMS re-pushing the receipt, FC re-running the invocation) writes the same state.
    await updateEntity(blipping, fp, (prev) => prev);
    expect((await store.get(prefix + fp))?.value).toEqual(value);
  });
});
