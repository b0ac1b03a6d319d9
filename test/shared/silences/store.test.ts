// shared/silences/store.ts on its own (memory store): a silence keeps StartsAt ≤ EndsAt however it ends.
import { describe, expect, it } from 'vitest';
import { silenceState, type Matcher } from '../../../shared/silences/silence.ts';
import { createSilence, expireSilence, listSilences } from '../../../shared/silences/store.ts';
import { MemoryStore } from '../../../shared/store/memory-store.ts';

const HOUR = 3_600_000;
const matchers: Matcher[] = [{ Name: 'WabaId', Value: '1234567890' }];

describe('expireSilence', () => {
  it('ends a pending silence now without leaving it ending before it starts', async () => {
    const store = new MemoryStore();
    const now = Date.parse('2026-12-01T10:00:00Z');
    const s = await createSilence(store, { Matchers: matchers, StartsAt: now + 24 * HOUR, EndsAt: now + 48 * HOUR, CreatedBy: 'me', Comment: 'next week' }, now);
    expect(silenceState(s, now)).toBe('pending');

    const ended = await expireSilence(store, s.SilenceId, now + HOUR);
    expect(ended).toMatchObject({ StartsAt: now + HOUR, EndsAt: now + HOUR, ExpiredAt: now + HOUR });
    const [listed] = await listSilences(store, now + HOUR);
    expect(listed!.StartsAt).toBeLessThanOrEqual(listed!.EndsAt);
    expect(silenceState(listed!, now + HOUR)).toBe('expired');
  });

  it('keeps an active silence\'s start', async () => {
    const store = new MemoryStore();
    const now = Date.parse('2026-12-01T10:00:00Z');
    const s = await createSilence(store, { Matchers: matchers, StartsAt: now, EndsAt: now + 48 * HOUR, CreatedBy: 'me', Comment: 'known' }, now);
    expect(await expireSilence(store, s.SilenceId, now + HOUR)).toMatchObject({ StartsAt: now, EndsAt: now + HOUR });
  });
});
