import type { AlertItem } from '../alerts/model.ts';
import type { EntityState, Heard } from '../monitor/entity-state.ts';
import { EVERY_SINK, heardItem, lastDecided, sameAsHeard, withClocks, type OutboxEntry } from '../monitor/entity-state.ts';
import { ENTITY_PREFIX, updateEntity } from '../monitor/entity-store.ts';
import { heldByBlockedWaba } from '../monitor/inhibition.ts';
import type { Store } from '../store/port.ts';
import { silencing, type Silence } from './silence.ts';
import { listSilences } from './store.ts';

/**
 * Silences, applied by the deliverer before it sends (under its lease, so nothing is sent twice):
 * - an owed notification matching an active silence is struck, not sent, and recorded on its
 *   entity (`silenced`: which silence, when, the item, the sinks it was still owed to), which the
 *   status page shows;
 * - when no silence covers a recorded entity any more (ended, deleted) and its alert still fires,
 *   the recorded item is owed again to those sinks, so the alert is notified then, unless a newer
 *   notification of it is already owed (that one says how it is now); a sink that never had the
 *   alert gets it as NEW; one that had it only if it now says otherwise than what that sink last
 *   heard (`heard`: a change there and back under the silence is nothing to it; as CHANGED), or as
 *   a REMINDER once that was the repeat interval ago; what is owed since is told each sink the same
 *   way (a change back to what it heard dropped, a reminder of what it never heard a CHANGED). If it resolved meanwhile, the resolution is
 *   owed only to the sinks that heard of the incident before the silence (`unheard` names the
 *   others), so theirs is closed;
 *   first, when the alert fired again under the silence (`closing`);
 * - a phone or template whose WABA is BLOCKED keeps its record until the WABA's hold ends: the WABA's
 *   alert covers it (../monitor/inhibition.ts), as it would have had no silence been set.
 * - a sink that a message recorded before its send (`inFlight`: entry id → the sinks of such
 *   messages) holds an entry for hears of it with that message, which the deliverer re-sends as it
 *   was (the sink may have it already): the silence applies from the next message, and does not
 *   owe the entry to that sink again when it ends; it is recorded as what that sink heard.
 * Returns true when it changed an entity (the caller re-reads what is owed).
 */
export async function applySilences(
  store: Store,
  entities: ReadonlyArray<{ key: string; value: EntityState }>,
  now: number,
  log: (rec: Record<string, unknown>) => void,
  opts: { inFlight?: ReadonlyMap<string, ReadonlySet<string>>; repeatIntervalMs: number; silences?: readonly Silence[] },
): Promise<boolean> {
  const inFlight = opts.inFlight ?? new Map<string, ReadonlySet<string>>();
  // Those in force only: the deliverer reads none of the ended ones, however many ended lately.
  const silences = opts.silences ?? (await listSilences(store, now)).silences;
  const blockedWabas = new Map<string, boolean>();
  let changed = false;
  for (const { key, value } of entities) {
    const hit = silencing(silences, value.subject, now);
    const owesMatched = hit && value.outbox.length > 0;
    const lifted = !hit && value.silenced;
    if (!owesMatched && !lifted) continue;
    const held = !hit && value.firing && (await heldByBlockedWaba(store, value.subject, blockedWabas));
    // Through updateEntity: a lifted silence re-owes its alert, which the owed index must name.
    let wrote = false;
    await updateEntity(store, key.slice(ENTITY_PREFIX.length), (current) => {
      const next = current ? rewrite(current, silences, now, held, log, inFlight, opts.repeatIntervalMs) : undefined;
      wrote = next !== undefined;
      return next;
    });
    changed ||= wrote;
  }
  return changed;
}

function rewrite(
  s: EntityState,
  silences: readonly Silence[],
  now: number,
  heldByWaba: boolean,
  log: (rec: Record<string, unknown>) => void,
  inFlight: ReadonlyMap<string, ReadonlySet<string>>,
  repeatIntervalMs: number,
): EntityState | undefined {
  const hit = silencing(silences, s.subject, now);
  if (hit && s.outbox.length > 0) {
    const latest = s.outbox.at(-1)!;
    log({ level: 'info', msg: 'alert silenced: recorded, not sent', silence: hit.SilenceId, node: s.node, items: s.outbox.length });
    const next: EntityState = { ...s, outbox: [] };
    // Each entry as still owed: a sink a recorded message holds it for gets it with that message,
    // so that is what it last heard (no strike off records it: the entry is gone from the outbox).
    const owed = s.outbox.map((e) => ({ ...e, pendingSinks: e.pendingSinks.filter((k) => !inFlight.get(e.id)?.has(k)) }));
    for (const k of new Set(s.outbox.flatMap((e) => e.pendingSinks.filter((p) => inFlight.get(e.id)?.has(p))))) {
      const told = lastDecided(s.outbox.filter((e) => e.pendingSinks.includes(k) && inFlight.get(e.id)?.has(k)))!;
      next.heard = { ...next.heard, [k]: heardItem(told.item, now) };
    }
    // The sinks still owed something: one that had the alert before the silence must not get it again.
    // Who heard of the incident: a struck `new` was still owed to the sinks that never did. Those that
    // did must hear that it ended, when the silence does, or their incident stays open for good.
    const kept = s.silenced;
    // Of the same incident, the sinks an earlier strike kept it from stay owed: a reminder goes only to
    // the sinks it is due to (each on its own clock, remindFrom), so the last one struck may name fewer.
    const sameIncident = kept?.sinks && kept.item.reason !== 'resolved' && !owed.some((e) => e.item.reason === 'new' || e.item.reason === 'resolved');
    const sinks = [...new Set([...owed.flatMap((e) => e.pendingSinks), ...(sameIncident ? kept.sinks! : [])])].sort();
    let unheard = kept ? unheardOf(kept) : [];
    let close = kept?.item.reason === 'resolved' ? { item: kept.item, to: kept.sinks ?? [] } : kept?.closing ? { item: kept.closing.item, to: kept.closing.sinks } : undefined;
    for (const e of owed) {
      if (e.item.reason === 'new') unheard = [...e.pendingSinks];
      else if (e.item.reason === 'resolved') {
        close = { item: e.item, to: [...new Set([...(close?.to ?? []), ...heardOf(e.pendingSinks, unheard)])].sort() };
        unheard = [];
      }
    }
    // Firing again after a resolution it struck: that incident's close is kept for when it ends.
    const closing = close && close.to.length > 0 ? { closing: { item: close.item, sinks: close.to } } : {};
    if (s.firing) next.silenced = { silenceId: hit.SilenceId, at: now, item: latest.item, sinks, ...(unheard.length > 0 ? { unheard } : {}), ...closing };
    else if (latest.item.reason === 'resolved' && close && close.to.length > 0) next.silenced = { silenceId: hit.SilenceId, at: now, item: close.item, sinks: close.to };
    else delete next.silenced;
    return next;
  }
  if (!hit && s.silenced) {
    if (s.firing && heldByWaba && s.outbox.length === 0) return undefined;
    const kept = s.silenced;
    const next: EntityState = { ...s };
    delete next.silenced;
    if (kept.item.reason === 'resolved') {
      // The incident ended under the silence: the sinks that heard of it hear so now, before anything newer.
      if (!kept.sinks?.length) return next;
      next.seq = s.seq + 1;
      // First by createdAt too, which the deliverer sends by: a NEW owed since (it fired again before
      // this ran) went out ahead of it, and the message read "1 resolved" of a node that fires.
      next.outbox = [{ id: `${s.fingerprint}.${next.seq}`, group: s.group, item: kept.item, pendingSinks: kept.sinks, createdAt: firstCreatedAt(s.outbox, now) }, ...s.outbox];
      log({ level: 'info', msg: 'silence over: notifying the resolution it kept back', silence: kept.silenceId, node: s.node });
      return next;
    }
    // Everything owed since the record was struck with it concerns the silenced incident: up to its
    // resolution, only the sinks that heard of it before the silence are told (that it ended).
    const resolvedAt = s.outbox.findLastIndex((e) => e.item.reason === 'resolved');
    if (resolvedAt >= 0) {
      const closing = s.outbox[resolvedAt]!;
      const heard = heardOf(closing.pendingSinks, unheardOf(kept));
      next.outbox = [...(heard.length > 0 ? [{ ...closing, pendingSinks: heard }] : []), ...s.outbox.slice(resolvedAt + 1)];
    }
    const unheard = unheardOf(kept);
    // A newer notification owed stands for the kept one, but only to its own sinks: a reminder owed
    // since goes to the sinks it was due to (each on its own clock), not to every one the silence kept.
    const news = next.outbox.filter((e) => e.item.reason !== 'resolved' && e.item.reason !== 'unwatched');
    const covered = new Set(news.flatMap((e) => e.pendingSinks));
    // Of the same incident only, and by name ("every sink" is resolved by the deliverer after this).
    const sameIncident = resolvedAt < 0 && !kept.closing && kept.sinks !== undefined && ![...kept.sinks, ...covered].includes(EVERY_SINK);
    const owedTo = next.outbox.length === 0 ? (kept.sinks ?? [EVERY_SINK]) : sameIncident ? kept.sinks!.filter((k) => !covered.has(k)) : [];
    if (s.firing && owedTo.length > 0) {
      // Owed to the sinks the silence kept it from, each as it is news to that sink (nothing, to one
      // that last heard what it says: a change there and back under the silence). Its reminder
      // counts from now, when they hear of it (from the struck one, it came minutes after this one
      // when the silence ended near its interval).
      const bySinks = new Map<AlertItem['reason'], string[]>();
      // How it is now: the newest owed, else the one kept.
      const item = news.at(-1)?.item ?? kept.item;
      // A sink owed nothing is reminded an interval after what it last heard, not after what was struck.
      const clocks: Record<string, number> = {};
      for (const k of owedTo) {
        const heard = s.heard?.[k];
        const reason = reasonFor(item, unheard.includes(EVERY_SINK) || unheard.includes(k), heard, now, repeatIntervalMs);
        if (reason) bySinks.set(reason, [...(bySinks.get(reason) ?? []), k]);
        else if (heard) clocks[k] = heard.at;
      }
      for (const [reason, pendingSinks] of bySinks) {
        next.seq += 1;
        next.lastNotifiedAt = now;
        next.outbox = [...next.outbox, { id: `${s.fingerprint}.${next.seq}`, group: s.group, item: { ...item, reason }, pendingSinks, createdAt: now }];
      }
      next.remindFrom = withClocks(s.remindFrom, clocks, [...bySinks.values()].flat());
      if (!next.remindFrom) delete next.remindFrom;
      log({ level: 'info', msg: bySinks.size > 0 ? 'silence over while the alert fires: notifying it' : 'silence over: every sink last heard the alert as it is', silence: kept.silenceId, node: s.node });
    }
    // The first a sink hears of the incident is its news, whatever the silence last struck or what is
    // owed since says (a change, a reminder): "CHANGED" of an alert it never had misleads.
    const firstNews = () => next.outbox.findIndex((e) => e.item.reason !== 'resolved' && e.item.reason !== 'unwatched');
    let first = firstNews();
    const since = next.outbox[first];
    if ((since?.item.reason === 'changed' || since?.item.reason === 'reminder') && resolvedAt < 0 && !kept.closing) {
      // Owed since the silence ended (before this ran), each sink told as it is news to it: a change
      // back to what it last heard is nothing to it (the change away was struck); a reminder of what
      // it never heard (a change the silence struck) is a change to it. Not after a resolution: what
      // the sink heard was of the incident that ended.
      const heardBy = (k: string) => (unheard.includes(EVERY_SINK) || unheard.includes(k) ? undefined : s.heard?.[k]);
      const differs = (k: string) => !sameAsHeard(since.item, heardBy(k)!);
      const asIs = since.pendingSinks.filter((k) => !heardBy(k) || (since.item.reason === 'changed') === differs(k));
      const changed = since.item.reason === 'reminder' ? since.pendingSinks.filter((k) => heardBy(k) && differs(k)) : [];
      const split: OutboxEntry[] = asIs.length > 0 ? [{ ...since, pendingSinks: asIs }] : [];
      if (changed.length > 0) {
        if (split.length > 0) next.seq += 1;
        split.push({ ...since, ...(split.length > 0 ? { id: `${s.fingerprint}.${next.seq}` } : {}), item: { ...since.item, reason: 'changed' }, pendingSinks: changed });
      }
      // Those a change is nothing to are reminded an interval after what they last heard, not after it.
      const clocks = Object.fromEntries(since.pendingSinks.filter((k) => !asIs.includes(k) && !changed.includes(k)).map((k) => [k, heardBy(k)!.at]));
      next.remindFrom = withClocks(next.remindFrom, clocks);
      if (!next.remindFrom) delete next.remindFrom;
      next.outbox = [...next.outbox.slice(0, first), ...split, ...next.outbox.slice(first + 1)];
      first = firstNews();
    }
    if (first >= 0 && next.outbox[first]!.item.reason !== 'new' && unheard.length > 0) {
      const entry = next.outbox[first]!;
      const told = heardOf(entry.pendingSinks, unheard);
      const fresh = entry.pendingSinks.filter((k) => !told.includes(k));
      if (fresh.length > 0) {
        const split: OutboxEntry[] = [{ ...entry, item: { ...entry.item, reason: 'new' }, pendingSinks: fresh }];
        if (told.length > 0) {
          next.seq += 1;
          split.push({ ...entry, id: `${s.fingerprint}.${next.seq}`, pendingSinks: told });
        }
        next.outbox = [...next.outbox.slice(0, first), ...split, ...next.outbox.slice(first + 1)];
      }
    }
    if (kept.closing) {
      // An earlier incident resolved under the silence: its close goes first, to the sinks that heard
      // of it. First by createdAt too, which the deliverer sends by (and a title counts the last of).
      next.seq += 1;
      next.outbox = [{ id: `${s.fingerprint}.${next.seq}`, group: s.group, item: kept.closing.item, pendingSinks: kept.closing.sinks, createdAt: firstCreatedAt(next.outbox, now) }, ...next.outbox];
    }
    return next;
  }
  return undefined;
}

/**
 * How a sink is owed the item a silence kept back, once it ends while the alert fires: as NEW to one
 * that never heard of the incident; to one that did, as a change when the item says otherwise than
 * what it last heard (as `evaluate` tells one: status and error codes), as a reminder when it says
 * the same and the sink heard it a repeat interval ago, else not at all. A sink with no record of
 * what it heard (an entity from before `heard`) gets the item as it was.
 */
function reasonFor(item: AlertItem, unheard: boolean, heard: Heard | undefined, now: number, repeatIntervalMs: number): AlertItem['reason'] | undefined {
  if (unheard || heard?.status === 'RESOLVED') return 'new';
  if (!heard) return item.reason;
  if (!sameAsHeard(item, heard)) return 'changed';
  return now - heard.at >= repeatIntervalMs ? 'reminder' : undefined;
}

/** A createdAt that puts an entry before everything in `outbox` (the deliverer sends by createdAt, then id). */
function firstCreatedAt(outbox: readonly OutboxEntry[], now: number): number {
  return outbox.length === 0 ? now : Math.min(now, ...outbox.map((e) => e.createdAt)) - 1;
}

/** The sinks a record says never heard of its incident (a record from before `unheard`: a kept `new`'s sinks). */
function unheardOf(kept: NonNullable<EntityState['silenced']>): string[] {
  if (kept.unheard) return kept.unheard;
  return kept.item.reason === 'new' ? (kept.sinks ?? [EVERY_SINK]) : [];
}

/** Of `sinks`, those not in `unheard`. */
function heardOf(sinks: readonly string[], unheard: readonly string[]): string[] {
  return unheard.includes(EVERY_SINK) ? [] : sinks.filter((k) => !unheard.includes(k));
}
