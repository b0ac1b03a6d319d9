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
 * - Where a watched target's record cannot say, the entities it may have produced (by their subject:
 *   its space's WABA-level ones, its own node's) are kept: for a target not checked yet (its first
 *   check names them); for a record an earlier version wrote, or one a process died before updating
 *   after its entity writes, until the next pass, which the next round's listing then runs.
 * - So is an entity written since the pass began.
 *
 * It costs one listing of the target records and one of the entities, so it runs only when the
 * listing found a target gone (one of the round's plan, or one whose bookkeeping began before any
 * plan held it: a receipt's check, target-info.ts UNPLANNED_PREFIX), when a pass was cut short or left
 * something undecided, when none has run yet (a store written by an earlier version), and at least
 * once a day. Never per tick.
 */
import type { AlertSubject } from '../alerts/model.ts';
import { update, type Store } from '../store/port.ts';
import { parseStoredNode } from '../validation/health-target.ts';
import { TARGET_INFO_PREFIX, type TargetInfo } from './target-info.ts';
import type { EntityState } from './entity-state.ts';
import { ENTITY_PREFIX, deleteUnwatched, updateEntity } from './entity-store.ts';
import { RISKY_PREFIX } from './risk.ts';
import { unwatch } from './rules.ts';
import { DISCOVERY_PREFIX, expireOldRemovals, WATCH_PREFIX, type RegisteredTarget, type WatchTarget } from './targets.ts';

/** When the last pass ran, and whether one is due before the daily one. */
const UNWATCHED_KEY = 'monitor/unwatched';
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
  await expireOldRemovals(store, since);

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
    const kept = reach.keeps(s);
    if (kept === 'named' || kept === 'fresh') continue;
    if (kept === 'unsure' || s.lastCheckedAt >= since) {
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
  const r = parseStoredNode((await store.get<RegisteredTarget>(WATCH_PREFIX + id))?.value.target);
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

/**
 * Per space, for each kind of watched target: entities written after this (alert clock) may have been
 * produced by such a target without its record naming them.
 */
interface SpaceUnsure {
  /** Any target of the space (each one reports its WABA, business and app). */
  any: number;
  /** A waba target (its reply's entities all carry node type waba). */
  waba: number;
  /** A phone target, and that number's own. */
  phone: number;
  phones: Map<string, number>;
  /** A template target, and that template's own. */
  template: number;
  templates: Map<string, number>;
}

const noneUnsure = (): SpaceUnsure => ({ any: Infinity, waba: Infinity, phone: Infinity, phones: new Map(), template: Infinity, templates: new Map() });

function note(spaces: Map<string, SpaceUnsure>, target: WatchTarget, until: number): void {
  let s = spaces.get(target.CustSpaceId);
  if (!s) spaces.set(target.CustSpaceId, (s = noneUnsure()));
  s.any = Math.min(s.any, until);
  if (target.NodeType === 'waba') s.waba = Math.min(s.waba, until);
  else if (target.NodeType === 'phone') {
    s.phone = Math.min(s.phone, until);
    s.phones.set(target.PhoneNumber!, Math.min(s.phones.get(target.PhoneNumber!) ?? Infinity, until));
  } else {
    const k = `${target.TemplateCode}/${target.Language}`;
    s.template = Math.min(s.template, until);
    s.templates.set(k, Math.min(s.templates.get(k) ?? Infinity, until));
  }
}

/** Of `s`, the time after which an entity like `subject` may have been produced unnamed, by who may have produced it (check.ts observeReply, sweep.ts monitorSubject). */
function unsureFor(s: SpaceUnsure | undefined, subject: AlertSubject): number {
  if (!s) return Infinity;
  const { nodeType, phoneNumber, templateCode, language } = subject;
  // WABA-level: the WABA, its business and app, an alert about the WABA: any target of the space.
  if (phoneNumber === undefined && templateCode === undefined) return s.any;
  // A node a waba target's reply held.
  if (nodeType === 'waba') return s.waba;
  // A number's own entities, or an alert about it; a template's.
  if (phoneNumber !== undefined && nodeType !== 'template') return s.phones.get(phoneNumber) ?? Infinity;
  if (templateCode !== undefined && nodeType !== 'phone') return s.templates.get(`${templateCode}/${language}`) ?? Infinity;
  // A template a phone target's reply held, a number a template target's.
  return nodeType === 'phone' ? s.phone : s.template;
}

/** Which entities the watched targets reach: named by their records, or possibly produced where a record cannot say. */
class Reach {
  private readonly named = new Set<string>();
  /** Targets with a record that cannot say: none of `reach` (an earlier version's), or entities newer than its last check (a process died between). */
  private readonly unsure = new Map<string, SpaceUnsure>();
  /** Targets with no record yet: not checked yet, or being checked now. */
  private readonly fresh = new Map<string, SpaceUnsure>();

  /** A watched target and its record (undefined: none yet). */
  add(target: WatchTarget, info: TargetInfo | undefined): void {
    if (!info) return note(this.fresh, target, -Infinity);
    for (const fp of info.reach ?? []) this.named.add(fp);
    // A record with `reach` names every entity written up to its last check (the check's entity writes come first).
    note(this.unsure, target, info.reach ? (info.lastCheckedAt ?? -Infinity) : -Infinity);
  }

  /**
   * `named`: a watched target's record names it. `fresh`: a watched target not checked yet may have
   * produced it (its first check names it). `unsure`: a record that cannot say may be missing it
   * (decided at the next pass). False: no watched target reaches it.
   */
  keeps(e: EntityState): 'named' | 'fresh' | 'unsure' | false {
    if (this.named.has(e.fingerprint)) return 'named';
    const space = e.subject.custSpaceId!;
    if (e.lastCheckedAt > unsureFor(this.fresh.get(space), e.subject)) return 'fresh';
    if (e.lastCheckedAt > unsureFor(this.unsure.get(space), e.subject)) return 'unsure';
    return false;
  }
}
