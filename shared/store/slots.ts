/**
 * Slot reservation (GCRA, "virtual scheduling", burst 1): the one rate-limit primitive of the store.
 * A key holds the theoretical arrival time (TAT) of the next free slot. A reservation takes the slot
 * at max(TAT, now) when that is at most `maxWaitMs` ahead, and moves TAT one interval on; a slot too
 * far ahead is refused WITHOUT changing the key, so a caller that cannot wait spends nothing.
 *
 * Why GCRA and not a token bucket: the state is one number, every adapter (Lua, file, memory) does
 * the same O(1) arithmetic, and it answers "when is my slot" exactly, which is what priorities by
 * lookahead need (a token bucket only answers "is there a token now").
 */

export interface SlotReservation {
  /** True when the slot is now the caller's. */
  granted: boolean;
  /** Granted: ms from the store's now to the slot. Refused: ms to the next free slot. Never negative. */
  waitMs: number;
  /** The same moment as epoch ms on the store's clock (the caller clamps it into its own round trip). */
  at: number;
}

export interface SlotDecision extends SlotReservation {
  /** The TAT to store after a grant (undefined when refused: leave the key as it is). */
  nextTat: number | undefined;
}

/** The reservation arithmetic, shared by the file and memory adapters (the redis adapter mirrors it in Lua). */
export function decideSlot(storedTat: number | undefined, now: number, intervalMs: number, maxWaitMs: number): SlotDecision {
  const tat = storedTat !== undefined && storedTat > now ? storedTat : now;
  const waitMs = tat - now;
  if (waitMs > maxWaitMs) return { granted: false, waitMs, at: tat, nextTat: undefined };
  return { granted: true, waitMs, at: tat, nextTat: tat + intervalMs };
}

export function checkSlotArgs(intervalMs: unknown, maxWaitMs: unknown): void {
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new TypeError(`reserveSlot intervalMs must be a finite number > 0 (got ${String(intervalMs)})`);
  }
  if (typeof maxWaitMs !== 'number' || Number.isNaN(maxWaitMs) || maxWaitMs < 0) {
    throw new TypeError(`reserveSlot maxWaitMs must be a number >= 0 (got ${String(maxWaitMs)})`);
  }
}
