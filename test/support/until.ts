/** Waits until `cond` holds, polling once per event-loop turn (a count or state, not a duration). */
export async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setImmediate(resolve));
}
