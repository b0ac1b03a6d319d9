/**
 * The indexes beside an entity (owed, silenced, held) are written after the entity, so a store that
 * goes away between the two loses the marker; the retry of that write, which changes nothing in the
 * entity, must still write it, or the index never names the entity (until a round's re-index).
 * And what that re-index (reindexEntities) teaches the WABA index about a space.
 */
import { describe, expect, it } from 'vitest';
import type { AlertSubject } from '../../../shared/alerts/model.ts';
import { fingerprintOf, type EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX, HELD_PREFIX, OWED_PREFIX, reindexEntities, SILENCED_PREFIX, updateEntity } from '../../../shared/monitor/entity-store.ts';
import { evaluate } from '../../../shared/monitor/rules.ts';
import { knownWabaOf, SPACE_WABA_PREFIX, WABA_SPACE_PREFIX, writeWabaSpace } from '../../../shared/monitor/waba-space.ts';
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

describe("the round's entity scan and the space's WABA in the index", () => {
  const [RIGHT, WRONG] = ['499399000100', '499399000001'];
  async function withEntity(over: Partial<AlertSubject>) {
    const store = await openStore('memory:');
    const s: AlertSubject = { ...subject, ...over };
    const state = evaluate(undefined, { subject: s, status: 'AVAILABLE', errors: [] }, { now: 1_700_000_000_000, round: 'r', policy: { minConsecutive: 1, repeatIntervalMs: 1e9 }, inhibited: false, sinks: ['s'] })!;
    await store.put(ENTITY_PREFIX + fingerprintOf(s), state);
    const writes: string[] = [];
    const recording = storeWith(store, { put: (k, v, o) => (writes.push(k), store.put(k, v, o)) });
    return { store, recording, writes };
  }

  it("a discovered number's quality named by a Discover entry's wrong WabaId does not make it the space's WABA", async () => {
    const { store, recording, writes } = await withEntity({ entityType: 'PHONE_QUALITY', wabaId: WRONG });
    // As the watch list leaves it: the right WABA known for the space, the wrong entry's WABA → space entry beside it.
    await writeWabaSpace(store, RIGHT, 'cs');
    await store.put(WABA_SPACE_PREFIX + WRONG, { CustSpaceId: 'cs' });
    await reindexEntities(recording);
    expect(await knownWabaOf(store, 'cs')).toBe(RIGHT);
    expect(writes.filter((k) => k.startsWith(SPACE_WABA_PREFIX) || k.startsWith(WABA_SPACE_PREFIX))).toEqual([]);
  });

  it("a check's entity (CAMS answered it) still puts right a WabaId a target named wrongly", async () => {
    const { store, recording } = await withEntity({ entityType: 'PHONE_NUMBER', wabaId: RIGHT });
    await writeWabaSpace(store, WRONG, 'cs');
    await store.put(WABA_SPACE_PREFIX + RIGHT, { CustSpaceId: 'cs' });
    await reindexEntities(recording);
    expect(await knownWabaOf(store, 'cs')).toBe(RIGHT);
  });
});
