/**
 * What a target leaves behind when it is no longer watched (removed with DELETE /watch-list, retired
 * by discovery, gone from MONITOR_TARGETS): the entities only it produced, its bookkeeping record,
 * its risky marker, its discovery record. The round's listing of the watch list (round-plan.ts
 * scanRound) is where removal is detected, and this pass runs there, once per round at most:
 *
 * - Which entities a watched target reaches is what its record names (`reach`, written by noteTarget,
 *   the one writer of a target's bookkeeping). An entity no watched target reaches is marked unwatched:
 *   it stops firing, a firing alert is closed out once ("no longer watched", status RESOLVED, severity
 *   info: rules.ts `unwatch`), and it leaves the report, the page and every index; it is deleted once
 *   its outbox is empty (entity-store.ts `deleteUnwatched`). An entity another watched target reaches
 *   (a WABA a remaining phone also reports) stays as it is.
 * - Where a watched target's record cannot say (it was never checked, an earlier version wrote it, a
 *   process died between an entity write and the record), the entities it may have produced are kept:
 *   its space's WABA-level ones, its own node's (a waba target: all of its space's).
 * - An entity written since the pass began is left to the next pass, which is then due.
 *
 * It costs one listing of the target records and one of the entities, so it runs only when the
 * listing found a target gone (one of the round's plan, or one whose bookkeeping began before any
 * plan held it: a receipt's check, check.ts UNPLANNED_PREFIX), when a pass was cut short or left
 * something undecided, when none has run yet (a store written by an earlier version), and at least
 * once a day. Never per tick.
 */
import type { AlertSubject } from '../alerts/model.ts';
import { update, type Store } from '../store/port.ts';
import { HealthNode } from '../validation/health-target.ts';
import { TARGET_INFO_PREFIX, type TargetInfo } from './check.ts';
import { DISCOVERY_PREFIX } from './discovery.ts';
import type { EntityState } from './entity-state.ts';
import { ENTITY_PREFIX, deleteUnwatched, updateEntity } from './entity-store.ts';
import { RISKY_PREFIX } from './risk.ts';
import { unwatch } from './rules.ts';
import { WATCH_PREFIX, type RegisteredTarget, type WatchTarget } from './targets.ts';

/** When the last pass ran, and whether one is due before the daily one. */
export const UNWATCHED_KEY = 'monitor/unwatched';
export interface UnwatchedRecord {
  /** Alert clock at the start of the last pass that finished and left nothing undecided. */
  lastRunAt?: number;
  /** A pass is due at the next round's listing (set when one starts, cleared when it is done). */
  due?: true;
}
/** A pass runs at least this often, whatever else happens. */
export const UNWATCHED_EVERY_MS = 24 * 3_600_000;

export interface UnwatchedOptions {
  /** Alert clock. */
  now: () => number;
  /** The sinks a close-out is owed to (the sweep's). */
  sinks: readonly string[];
  log: (record: Record<string, unknown>) => void;
  /** An entity was marked unwatched (the sweep forgets that it wrote it this round). */
  onUnwatched?: (fingerprint: string) => void;
  /** A close-out was added to an outbox (the sweep schedules a flush). */
  onOwed?: () => void;
}

export interface UnwatchedReport {
  /** Target records of targets no longer watched, deleted. */
  targets: number;
  /** Entities marked unwatched. */
  entities: number;
  /** Of those, firing alerts closed out. */
  closedOut: number;
}

/** Whether the round's listing runs a pass: it found `removed` targets gone, or one is due. */
export async function unwatchedPassWanted(store: Store, removed: number, now: number): Promise<boolean> {
  if (removed > 0) return true;
  const rec = (await store.get<UnwatchedRecord>(UNWATCHED_KEY))?.value;
  return rec?.lastRunAt === undefined || rec.due === true || now - rec.lastRunAt >= UNWATCHED_EVERY_MS;
}

/**
 * The pass: marks unwatched the entities no watched target reaches and deletes the bookkeeping of targets no
 * longer watched. `watched`: the round's listing of the watch list (configured targets included).
 */
export async function runUnwatchedPass(store: Store, watched: ReadonlyMap<string, WatchTarget>, opts: UnwatchedOptions): Promise<UnwatchedReport> {
  const since = opts.now();
  // Due until it has run to the end: a pass cut short runs again at the next round's listing.
  await update<UnwatchedRecord>(store, UNWATCHED_KEY, (cur) => (cur?.due ? undefined : { ...cur, due: true }));
  let undecided = false;

  const reach = new Reach();
  const gone: Array<{ id: string; key: string; version: string }> = [];
  const recorded = new Set<string>();
  for (const r of await store.list<TargetInfo>(TARGET_INFO_PREFIX)) {
    const id = r.key.slice(TARGET_INFO_PREFIX.length);
    // One the listing missed (added since) is watched all the same.
    const target = watched.get(id) ?? (await watchedNow(store, id));
    if (!target) {
      gone.push({ id, key: r.key, version: r.version });
      continue;
    }
    recorded.add(id);
    reach.add(target, r.value);
  }
  for (const [id, target] of watched) if (!recorded.has(id)) reach.add(target, undefined);

  const report: UnwatchedReport = { targets: 0, entities: 0, closedOut: 0 };
  for (const e of await store.list<EntityState>(ENTITY_PREFIX)) {
    const s = e.value;
    if (!producedByTarget(s.subject)) continue;
    // Marked unwatched earlier and owing nothing now (its deleter died): deleted.
    if (s.unwatchedAt !== undefined) {
      await deleteUnwatched(store, e.key, e);
      continue;
    }
    if (reach.keeps(s)) continue;
    if (s.lastCheckedAt >= since) {
      undecided = true;
      continue;
    }
    const fp = e.key.slice(ENTITY_PREFIX.length);
    let closed = false;
    const result = await updateEntity(store, fp, (cur) => {
      // Observed again since it was listed (watched again, or reached by a target the records missed).
      if (!cur || cur.unwatchedAt !== undefined || cur.lastCheckedAt >= since) return undefined;
      const next = unwatch(cur, { now: opts.now(), sinks: opts.sinks });
      closed = next.outbox.length > cur.outbox.length;
      return next;
    });
    if (result?.value.unwatchedAt === undefined) {
      undecided ||= (result?.value.lastCheckedAt ?? 0) >= since;
      continue;
    }
    opts.onUnwatched?.(fp);
    report.entities++;
    if (closed) {
      report.closedOut++;
      opts.onOwed?.();
    }
    await deleteUnwatched(store, e.key, result);
  }

  for (const g of gone) {
    // Compare-and-delete: a record written since (a check in flight when it was removed) is left to the next pass.
    if (!(await store.delete(g.key, { ifVersion: g.version }))) {
      undecided = true;
      continue;
    }
    await store.delete(RISKY_PREFIX + g.id);
    await store.delete(DISCOVERY_PREFIX + g.id);
    report.targets++;
  }

  // Done, unless something was left undecided: then the next round's listing runs a pass again.
  if (!undecided) await store.put<UnwatchedRecord>(UNWATCHED_KEY, { lastRunAt: since });
  if (report.targets > 0 || report.entities > 0) opts.log({ level: 'info', msg: 'no longer watched: bookkeeping deleted, entities closed out', ...report, ...(undecided ? { undecided: true } : {}) });
  return report;
}

/** The target a watch entry names now (the round's listing may be older than a record). */
async function watchedNow(store: Store, id: string): Promise<WatchTarget | undefined> {
  const r = HealthNode.safeParse((await store.get<RegisteredTarget>(WATCH_PREFIX + id))?.value.target);
  return r.success ? r.data : undefined;
}

/**
 * Entities a watched target produces: its checks' (any node type) and its monitor alerts about it
 * (TargetRejected, DiscoveryFailed). The monitor's own (AuthRefused, CamsUnreachable, InvalidTarget,
 * OnboardingFailed, …) name no space and are resolved where they are raised.
 */
function producedByTarget(s: AlertSubject): boolean {
  if (!s.custSpaceId) return false;
  return s.nodeType !== 'monitor' || s.entityType === 'TargetRejected' || s.entityType === 'DiscoveryFailed';
}

/** Per space: the watched targets whose records may not name every entity they produced. */
interface SpaceUnsure {
  /** Entities written after this (alert clock) may be unnamed by some target of the space. */
  any: number;
  /** …by a waba target of the space (whose reply may hold any node of it). */
  waba: number;
  /** …by the phone target of that number. */
  phones: Map<string, number>;
  /** …by the template target of that code and language. */
  templates: Map<string, number>;
}

/** Which entities the watched targets reach: named by their records, or possibly produced where a record cannot say. */
class Reach {
  private readonly named = new Set<string>();
  private readonly spaces = new Map<string, SpaceUnsure>();

  /**
   * A watched target and its record (undefined: none yet). Its record names every entity written on
   * its behalf up to its last check, since the check's entity writes come before it; a target with
   * no `reach` recorded names nothing for sure.
   */
  add(target: WatchTarget, info: TargetInfo | undefined): void {
    for (const fp of info?.reach ?? []) this.named.add(fp);
    const sureUntil = info?.reach ? (info.lastCheckedAt ?? -Infinity) : -Infinity;
    let s = this.spaces.get(target.CustSpaceId);
    if (!s) this.spaces.set(target.CustSpaceId, (s = { any: Infinity, waba: Infinity, phones: new Map(), templates: new Map() }));
    s.any = Math.min(s.any, sureUntil);
    if (target.NodeType === 'waba') s.waba = Math.min(s.waba, sureUntil);
    else if (target.NodeType === 'phone') s.phones.set(target.PhoneNumber!, Math.min(s.phones.get(target.PhoneNumber!) ?? Infinity, sureUntil));
    else {
      const k = `${target.TemplateCode}/${target.Language}`;
      s.templates.set(k, Math.min(s.templates.get(k) ?? Infinity, sureUntil));
    }
  }

  keeps(e: EntityState): boolean {
    if (this.named.has(e.fingerprint)) return true;
    const s = this.spaces.get(e.subject.custSpaceId!);
    if (!s) return false;
    const at = e.lastCheckedAt;
    if (at > s.waba) return true;
    const { phoneNumber, templateCode, language } = e.subject;
    if (phoneNumber !== undefined) return at > (s.phones.get(phoneNumber) ?? Infinity);
    if (templateCode !== undefined) return at > (s.templates.get(`${templateCode}/${language}`) ?? Infinity);
    // WABA-level (the WABA, its business and app; alerts about the WABA): any target of the space may report it.
    return at > s.any;
  }
}
