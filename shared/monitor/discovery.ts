import type { AlertSubject } from '../alerts/model.ts';
import type { CamsCallOptions, CamsClient } from '../cams/client.ts';
import { isCamsError, type CamsError } from '../cams/errors.ts';
import type { PhoneNumberInfo, TemplateInfo } from '../cams/operations.ts';
import { update, type Store } from '../store/port.ts';
import { HealthNode, parseStoredNode } from '../validation/health-target.ts';
import { adviceFor } from './advice.ts';
import { knownWabaOf, writeWabaSpace } from './waba-space.ts';
import { TARGET_INFO_PREFIX } from './target-info.ts';
import { ENTITY_PREFIX } from './dispatch.ts';
import { fingerprintOf, type EntityState } from './entity-state.ts';
import { qualityObservation, tierRank } from './quality.ts';
import { REJECTED_CODE, templateStatusObservation } from './template-status.ts';
import { isAccountReviewStatus, wabaReviewObservation } from './waba-review.ts';
import type { Observation } from './rules.ts';
import { DISCOVERY_PREFIX, keptOff, removedInSpace, targetId, WATCH_PREFIX, type NodeAttributes, type RegisteredTarget, type WatchTarget } from './targets.ts';

/** ListChatappTemplate page size; the reference page documents no maximum, its example uses 20. */
const TEMPLATE_PAGE_SIZE = 20;
/** Pages read for one WABA at most (20,000 templates), so a reply that never ends cannot hold the sweep. */
const MAX_TEMPLATE_PAGES = 1000;
/**
 * Templates a listing cut at MAX_TEMPLATE_PAGES looks up one by one (ListChatappTemplate by Code and
 * Language, one call each): watched ones and unwatchable ones its pages did not show, the least
 * recently seen first. Those are past the cap or deleted in CAMS, and only a look-up tells which.
 */
const MAX_TEMPLATE_LOOKUPS = 50;

/** What discovery remembers per Discover entry. */
export interface DiscoveryRecord {
  lastRunAt: number;
  phones?: number;
  templates?: number;
  lastError?: string;
  /** Listed nodes our checks would refuse, each a DiscoveryFailed alert of its own: a later listing resolves those gone. */
  unwatchable?: AlertSubject[];
  /** The last listing's template pages reached MAX_TEMPLATE_PAGES (logged when a listing first does). */
  capped?: true;
}

export interface DiscoveryOptions {
  store: Store;
  cams: CamsClient;
  intervalMs: number;
  /** Epoch ms by which discovery must stop starting CAMS calls (a share of the sweep's time). */
  deadline: number;
  /** Wall clock for the deadline. */
  now: () => number;
  /** Clock for "due" and SeenAt (tests move it forward). */
  clock: () => number;
  log: (record: Record<string, unknown>) => void;
  /** Only this Discover entry (its watch id), listed now whatever its interval says. */
  only?: string;
  /** MONITOR_TARGETS: a WABA there is watched, though not (or no longer) a Discover entry. */
  envTargets?: readonly WatchTarget[];
  /** Template pages read per WABA at most (default MAX_TEMPLATE_PAGES; tests lower it). */
  templatePageCap?: number;
  /** Templates a capped listing looks up at most (default MAX_TEMPLATE_LOOKUPS; tests lower it). */
  templateLookupCap?: number;
}

export interface DiscoveryReport {
  wabas: number;
  discovered: number;
  retired: number;
  failed: number;
  /** Quality, limit-tier and review observations for the sweep to run through its rules, each with the target it is about (whose reach it joins). */
  observations: TargetObservation[];
}

/** An observation and the watched target it is about. */
export interface TargetObservation {
  target: WatchTarget;
  obs: Observation;
}

/**
 * Call options of every discovery call: the account's budget at the `discovery` priority, below the
 * sweep (it takes only a slot nobody has asked for), and only within the share of the invocation the
 * sweep gives it, before the checks.
 */
function discoveryCallOptions(deadline: number): CamsCallOptions {
  return { deadline, priority: 'discovery' };
}


/**
 * For every WABA watched with Discover and due (DISCOVERY_INTERVAL since its last run), lists its
 * numbers and templates and makes the watch list match: new nodes are added (owned by the Discover
 * entry), nodes CAMS no longer lists are retired (deleted, not alerted on), and each number's quality
 * rating and limit tier are stored with it. The WABA's review status is read too, before the listing (readBoundWaba, reviewOutcome). Nodes of a Discover entry that was removed are retired too.
 * A WABA whose listing fails is left as it was and tried again at the next sweep.
 */
export async function runDiscovery(opts: DiscoveryOptions): Promise<DiscoveryReport> {
  const { store } = opts;
  const report: DiscoveryReport = { wabas: 0, discovered: 0, retired: 0, failed: 0, observations: [] };
  const records = await store.list<RegisteredTarget>(WATCH_PREFIX);
  const allRoots = records.filter((r) => r.value.discover && r.value.target.NodeType === 'waba');
  const roots = allRoots.filter((r) => opts.only === undefined || r.key === WATCH_PREFIX + opts.only);
  // Every Discover entry, not only the ones listed now: with `only`, the other WABAs' nodes are not orphans.
  const rootIds = new Set(allRoots.map((r) => r.key.slice(WATCH_PREFIX.length)));

  // Children whose Discover entry is gone go with it.
  for (const r of records) {
    if (r.value.discoveredBy !== undefined && !rootIds.has(r.value.discoveredBy) && (await store.delete(r.key, { ifVersion: r.version }))) report.retired++;
  }
  if (opts.only === undefined) report.observations.push(...(await discoveryTurnedOff(opts, rootIds, records)));

  for (const root of roots) {
    if (opts.deadline - opts.now() <= 0) break;
    const rootId = root.key.slice(WATCH_PREFIX.length);
    const state = await store.get<DiscoveryRecord>(DISCOVERY_PREFIX + rootId);
    if (opts.only === undefined && state && opts.clock() - state.value.lastRunAt < opts.intervalMs) continue;
    report.wabas++;
    const children = records.filter((r) => r.value.discoveredBy === rootId);
    try {
      const knownWaba = await knownWabaOf(store, root.value.target.CustSpaceId);
      // CAMS's word on the space's WABA before the listing, which names the nodes' alerts by it: by a
      // wrong one the index took from a poster, a number's quality was raised apart from its
      // receipts' alert, which the listing resolved as an old name while it still held.
      const bound = await readBoundWaba(opts, root.value.target, knownWaba);
      const found = await listNodes(opts, root.value.target, bound?.id ?? knownWaba);
      if (found.capped) {
        if (!state?.value.capped) opts.log({ level: 'warn', msg: `discovery: the WABA has more templates than ${found.pageCap} pages hold; those past them are looked up one by one (${MAX_TEMPLATE_LOOKUPS} a listing)`, waba: rootId, templates: found.templates.length });
        await lookUpUnseen(opts, root.value.target, found, children, state?.value.unwatchable ?? []);
      }
      const outcome = await reconcile(opts, rootId, root.value.target.CustSpaceId, found, children);
      report.discovered += outcome.added;
      report.retired += outcome.retired;
      report.observations.push(...outcome.observations);
      report.observations.push(...(await reviewOutcome(opts, root.value.target, bound, found.subjectWaba)));
      // Resolves a DiscoveryFailed still bad; creates no state otherwise.
      const ok = discoveryOutcome(root.value.target);
      if (await stillBad(store, ok.subject)) report.observations.push({ target: root.value.target, obs: ok });
      const unwatchable = await unwatchableOutcome(store, root.value.target, found, state?.value.unwatchable ?? []);
      report.observations.push(...unwatchable.observations);
      await store.put<DiscoveryRecord>(DISCOVERY_PREFIX + rootId, {
        lastRunAt: opts.clock(),
        phones: found.phones.length,
        templates: found.templates.length,
        ...(unwatchable.subjects.length ? { unwatchable: unwatchable.subjects } : {}),
        ...(found.capped ? { capped: true as const } : {}),
      });
    } catch (e) {
      if (!isCamsError(e)) throw e;
      report.failed++;
      // The listing that would have named the space's removed nodes could not: they stay removed (their
      // records renewed as a listing renews them), or one expired while the listing kept failing would
      // come back under watch at the first listing that works again.
      for (const r of (await removedInSpace(store, root.value.target.CustSpaceId, opts.clock())).values()) await keptOff(store, r, opts.clock());
      opts.log({ level: 'warn', msg: 'discovery failed; the watch list of this WABA is left as it was', waba: rootId, code: e.Code, error: e.Message });
      // A refusal (the WABA is not ours) waits for the interval; anything transient is retried next sweep.
      if (!e.retryable && e.Code !== 'DeadlineExceeded') {
        const unwatchable = state?.value.unwatchable;
        await store.put<DiscoveryRecord>(DISCOVERY_PREFIX + rootId, { lastRunAt: opts.clock(), lastError: e.Code, ...(unwatchable?.length ? { unwatchable } : {}) });
        report.observations.push({ target: root.value.target, obs: discoveryOutcome(root.value.target, e) });
      }
    }
  }
  if (report.wabas > 0 || report.retired > 0) {
    opts.log({ level: 'info', msg: 'discovery', wabas: report.wabas, discovered: report.discovered, retired: report.retired, failed: report.failed });
  }
  return report;
}

/**
 * The DiscoveryFailed alerts of a WABA still watched but no longer a Discover entry (its Discover
 * entry deleted and the WABA posted again without it, or also in MONITOR_TARGETS): no listing will
 * resolve them, and the removal pass keeps them (the WABA's record reaches them), so they are resolved
 * here, but for a node another Discover entry of the space still lists (one alert per node: its
 * listings keep it or resolve it, and the record is kept while they do, to resolve it once none does).
 * The record goes once none of its own is bad (kept until then: a resolution not applied, the
 * process having died, is made again next round). One of a WABA no longer watched is left to the
 * removal pass (unwatched.ts), which closes its alerts out and deletes it with the WABA's target
 * record; one without a target record goes here (dropIfOrphan). One list of the records (one per
 * Discover entry) per round; reads only for those no Discover entry has.
 */
async function discoveryTurnedOff(
  opts: DiscoveryOptions,
  rootIds: ReadonlySet<string>,
  records: ReadonlyArray<{ key: string; value: RegisteredTarget }>,
): Promise<TargetObservation[]> {
  const { store } = opts;
  const observations: TargetObservation[] = [];
  let watched: Map<string, WatchTarget> | undefined;
  const discoveryRecords = await store.list<DiscoveryRecord>(DISCOVERY_PREFIX);
  // A node another Discover entry of the space still lists is its alert to keep or resolve.
  const listedElsewhere = new Set(discoveryRecords.filter((rec) => rootIds.has(rec.key.slice(DISCOVERY_PREFIX.length))).flatMap((rec) => (rec.value.unwatchable ?? []).map(fingerprintOf)));
  for (const rec of discoveryRecords) {
    const id = rec.key.slice(DISCOVERY_PREFIX.length);
    if (rootIds.has(id)) continue;
    watched ??= new Map([...(opts.envTargets ?? []).map((t) => [targetId(t), t] as const), ...records.map((r) => [r.key.slice(WATCH_PREFIX.length), r.value.target] as const)]);
    const target = watched.get(id);
    if (!target) {
      await dropIfOrphan(store, rec, id);
      continue;
    }
    let bad = false;
    for (const subject of [discoveryOutcome(target).subject, ...(rec.value.unwatchable ?? [])]) {
      // Kept, not resolved: this WABA's record reaches the alert, so once no entry lists the node
      // (that entry deleted), this record is what resolves it; deleted now, it fired on for ever.
      if (listedElsewhere.has(fingerprintOf(subject))) {
        bad = true;
        continue;
      }
      if (!(await stillBad(store, subject))) continue;
      bad = true;
      observations.push({ target, obs: { subject, status: 'AVAILABLE', errors: [] } });
    }
    if (!bad) await store.delete(rec.key, { ifVersion: rec.version });
  }
  return observations;
}

/**
 * The record of a WABA no longer watched that never got a target record (removed before its first
 * check): the removal pass deletes a record only beside its target's, so it stayed for ever. Read only
 * for such a record (none in the steady state); one with a target record is the pass's, and one
 * watched again since the round's listing (or written for it since) stays.
 */
async function dropIfOrphan(store: Store, rec: { key: string; version: string }, id: string): Promise<void> {
  if (await store.get(TARGET_INFO_PREFIX + id)) return;
  if (await store.get(WATCH_PREFIX + id)) return;
  await store.delete(rec.key, { ifVersion: rec.version });
}

/**
 * A node discovery added that CAMS now refuses as unknown was most likely removed from its WABA: its
 * Discover entry is listed again at once (not at its next interval), so a removed node is retired
 * instead of raising a rejection alert. `gone` says whether the node left the watch list after it
 * (false: the node was not discovered, or is still listed, a real rejection).
 *
 * `listings` holds the listings already made (by Discover entry id) for the caller's invocation: a
 * WABA is listed again at most once there, however many of its nodes are refused (a WABA that is no
 * longer ours, or a Discover entry with a wrong WabaId, has every node refused, and each would list
 * it: numbers and every template page, per node, per tick). A caller that waited on another's
 * listing gets no report (its observations are the first caller's to apply).
 */
export async function rediscoverIfGone(
  opts: Omit<DiscoveryOptions, 'only'>,
  nodeId: string,
  listings: Map<string, Promise<DiscoveryReport>> = new Map(),
): Promise<{ gone: boolean; report?: DiscoveryReport }> {
  const node = await opts.store.get<RegisteredTarget>(WATCH_PREFIX + nodeId);
  const root = node?.value.discoveredBy;
  if (!root) return { gone: false };
  let listing = listings.get(root);
  const first = listing === undefined;
  if (!listing) {
    listing = runDiscovery({ ...opts, only: root });
    listings.set(root, listing);
    // A listing that threw (not CAMS: the store) is not remembered; the next refused node tries again.
    listing.catch(() => listings.delete(root));
  }
  const report = await listing;
  const gone = (await opts.store.get(WATCH_PREFIX + nodeId)) === undefined;
  return { gone, ...(first ? { report } : {}) };
}

/**
 * A listed node, and when its reply was asked for (alert clock): what it says is applied once the whole
 * listing is done, and not over a receipt applied since (Observation.readAt).
 */
interface Listed<I> {
  target: WatchTarget;
  info: I;
  readAt: number;
}

interface Found {
  phones: Array<Listed<PhoneNumberInfo>>;
  templates: Array<Listed<TemplateInfo>>;
  /**
   * False when the template pages may have missed one: `Total` changed between pages (a template
   * created or deleted meanwhile shifts the later pages, and one removed before the page being read
   * pushes a listed template back onto a page already read), or the page cap was reached. Templates
   * are then added and updated, but none is retired on this listing (but one a look-up found gone).
   */
  templatesComplete: boolean;
  /** The pages stopped at the cap (`pageCap` pages), not at the list's end. */
  capped: boolean;
  pageCap: number;
  /** Templates (`code/language`) a look-up found CAMS no longer has (lookUpUnseen): retired, their alerts resolved. */
  goneTemplates: Set<string>;
  /** Remembered unwatchable templates (`code/language`) this listing looked up: remembered after the others, whose turn is next. */
  lookedUp: Set<string>;
  /** Listed nodes our checks would refuse (a template code or language our validator does not take). */
  unwatchable: Array<{ subject: AlertSubject; problem: string }>;
  /** The WabaId their alerts carry (a WabaId silence holds them): the space's, whichever entry listed them. */
  subjectWaba: string | undefined;
}

/**
 * `knownWaba`: the space's WABA, as QueryChatappBindWaba named it (else as the index knows it,
 * waba-space.ts), which names the unwatchable nodes' alerts: a listing is of the space, so two
 * Discover entries of one space (one with a wrong WabaId, or the WABA in both forms) list the same
 * nodes, and name them alike.
 */
async function listNodes(opts: DiscoveryOptions, waba: WatchTarget, knownWaba: string | undefined): Promise<Found> {
  const call = discoveryCallOptions(opts.deadline);
  const space = waba.CustSpaceId;
  const phonesReadAt = opts.clock();
  const { data } = await opts.cams.queryPhoneNumbers({ CustSpaceId: space }, call);
  const pageCap = opts.templatePageCap ?? MAX_TEMPLATE_PAGES;
  const found: Found = { phones: [], templates: [], templatesComplete: false, capped: false, pageCap, goneTemplates: new Set(), lookedUp: new Set(), unwatchable: [], subjectWaba: knownWaba ?? waba.WabaId };
  for (const info of data.PhoneNumbers) {
    const target = nodeOf({ CustSpaceId: space, NodeType: 'phone', WabaId: waba.WabaId, PhoneNumber: info.PhoneNumber.replace(/^\+/, '') }, opts, found);
    if (target) found.phones.push({ target, info, readAt: phonesReadAt });
  }
  let firstTotal: number | undefined;
  let consistent = true;
  let ended = false;
  for (let index = 1; index <= pageCap; index++) {
    const readAt = opts.clock();
    const page = await opts.cams.listTemplates({ CustSpaceId: space, Page: JSON.stringify({ Index: index, Size: TEMPLATE_PAGE_SIZE }) }, call);
    for (const info of page.data.ListTemplate) {
      const target = nodeOf({ CustSpaceId: space, NodeType: 'template', WabaId: waba.WabaId, TemplateCode: info.TemplateCode, Language: info.Language }, opts, found);
      if (target) found.templates.push({ target, info, readAt });
    }
    const total = page.data.Total;
    if (index === 1) firstTotal = total;
    else if (total !== firstTotal) consistent = false;
    if (page.data.ListTemplate.length < TEMPLATE_PAGE_SIZE || (total !== undefined && index * TEMPLATE_PAGE_SIZE >= total)) {
      found.templatesComplete = consistent;
      ended = true;
      break;
    }
  }
  found.capped = !ended;
  if (ended && !consistent) opts.log({ level: 'warn', msg: 'discovery: the template list changed while it was paged; no template is retired on this listing', waba: targetId(waba), templates: found.templates.length });
  return found;
}

const templateKey = (code: unknown, language: unknown) => `${String(code)}/${String(language)}`;

/**
 * After a listing cut at the page cap: templates its pages did not show, watched by this entry or
 * remembered as unwatchable, looked up one by one (at most MAX_TEMPLATE_LOOKUPS): watched ones the
 * least recently seen first, remembered ones in the order remembered, which puts the ones looked up
 * last (unwatchableOutcome), so the next listings take the others. Neither kind waits for the other:
 * each has half the look-ups, and what one leaves the other takes. One CAMS lists is added to `found` as if its
 * page had shown it, one it does not is put in `found.goneTemplates`. A look-up that fails, a full
 * reply without it (a Code filter that matches more), or none for a code or language its alert holds
 * cut (NAME_MAX), decides nothing: the template is kept.
 */
async function lookUpUnseen(
  opts: DiscoveryOptions,
  waba: WatchTarget,
  found: Found,
  children: ReadonlyArray<{ value: RegisteredTarget }>,
  unwatchable: readonly AlertSubject[],
): Promise<void> {
  const seen = new Set([...found.templates.map((t) => templateKey(t.target.TemplateCode, t.target.Language)), ...found.unwatchable.map((u) => templateKey(u.subject.templateCode, u.subject.language))]);
  const watched = children
    .filter((c) => c.value.target.NodeType === 'template')
    .sort((a, b) => (a.value.attributes?.SeenAt ?? 0) - (b.value.attributes?.SeenAt ?? 0))
    .map((c) => ({ code: c.value.target.TemplateCode, language: c.value.target.Language }));
  // An alert names a template by its code and language cut at NAME_MAX: one that long may be longer
  // in CAMS, so a look-up by it that finds nothing does not say CAMS no longer has it.
  const remembered = unwatchable.filter((u) => u.templateCode !== undefined).map((u) => ({ code: u.templateCode, language: u.language, mayBeCut: mayBeCut(u.templateCode) || mayBeCut(u.language) }));
  const unseen = <T extends { code?: string | undefined; language?: string | undefined }>(list: T[]) => list.filter((t) => !seen.has(templateKey(t.code, t.language)));
  const [unseenRemembered, unseenWatched] = [unseen(remembered), unseen(watched.map((t) => ({ ...t, mayBeCut: false })))];
  // Remembered ones first, as many as half the look-ups or what the watched ones leave: 50 unwatchable
  // templates past the cap, still in CAMS, took every look-up, and a watched one was never looked up.
  const max = opts.templateLookupCap ?? MAX_TEMPLATE_LOOKUPS;
  const fromRemembered = unseenRemembered.slice(0, Math.max(Math.ceil(max / 2), max - unseenWatched.length));
  const call = discoveryCallOptions(opts.deadline);
  for (const { code, language, mayBeCut: cut } of [...fromRemembered, ...unseenWatched.slice(0, max - fromRemembered.length)]) {
    if (opts.deadline - opts.now() <= 0) return;
    // Its turn taken, whatever the look-up says (one CAMS refuses each time holds up no other).
    if (fromRemembered.some((r) => r.code === code && r.language === language)) found.lookedUp.add(templateKey(code, language));
    let listed: TemplateInfo[];
    const readAt = opts.clock();
    try {
      const page = await opts.cams.listTemplates({ CustSpaceId: waba.CustSpaceId, Code: code, Language: language, Page: JSON.stringify({ Index: 1, Size: TEMPLATE_PAGE_SIZE }) }, call);
      listed = page.data.ListTemplate;
    } catch (e) {
      if (!isCamsError(e)) throw e;
      opts.log({ level: 'warn', msg: 'discovery: a template look-up failed; the templates not looked up are kept', waba: targetId(waba), code: e.Code });
      return;
    }
    // Compared as its alert names it (cut as named() cuts: a watched template's code and language are never that long).
    const info = listed.find((t) => named(t.TemplateCode) === code && named(t.Language) === language);
    if (info) {
      const target = nodeOf({ CustSpaceId: waba.CustSpaceId, NodeType: 'template', WabaId: waba.WabaId, TemplateCode: info.TemplateCode, Language: info.Language }, opts, found);
      if (target) found.templates.push({ target, info, readAt });
    } else if (listed.length < TEMPLATE_PAGE_SIZE && !cut) {
      found.goneTemplates.add(templateKey(code, language));
    }
  }
}

/** A node CAMS listed, as a watch target; one our checks would refuse is left out, logged and kept in `found.unwatchable`. */
function nodeOf(raw: Record<string, unknown>, opts: DiscoveryOptions, found: Found): WatchTarget | undefined {
  const r = HealthNode.safeParse(Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)));
  if (r.success) return r.data;
  const problem = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  opts.log({ level: 'warn', msg: 'discovery skipped a node it cannot watch', node: raw, problem });
  found.unwatchable.push({ subject: unwatchableSubject({ ...raw, WabaId: found.subjectWaba }), problem });
  return undefined;
}

/** What CAMS names a node by can be anything: cut, so an odd reply cannot make an alert of any size. */
const NAME_MAX = 128;
const named = (v: unknown) => (typeof v === 'string' ? v.slice(0, NAME_MAX) : undefined);
/** A name named() may have cut: what CAMS calls it may be longer. */
const mayBeCut = (v: string | undefined) => v !== undefined && v.length >= NAME_MAX;

/** An unwatchable node's own DiscoveryFailed: one per node, named by what CAMS listed (and its space's WabaId). */
function unwatchableSubject(raw: Record<string, unknown>): AlertSubject {
  const [wabaId, phoneNumber, templateCode, language] = [raw['WabaId'], raw['PhoneNumber'], raw['TemplateCode'], raw['Language']].map(named);
  return dropUndefined({ nodeType: 'monitor' as const, entityType: 'DiscoveryFailed', custSpaceId: named(raw['CustSpaceId']), wabaId, phoneNumber, templateCode, language });
}

/**
 * A listed node our checks would refuse is a DiscoveryFailed alert of its own (one per node, not one
 * per listing: the same node listed again is the same alert), about the Discover entry, whose removal
 * closes it out. One the listing no longer has (deleted in CAMS) is resolved; a template missed by a
 * listing whose pages shifted is kept, as it would not be retired. Returns the subjects to remember
 * (one being resolved too, until a listing finds it so).
 */
async function unwatchableOutcome(
  store: Store,
  root: WatchTarget,
  found: Found,
  previous: readonly AlertSubject[],
): Promise<{ subjects: AlertSubject[]; observations: TargetObservation[] }> {
  // One per node, though shifted template pages may list one twice.
  const listed = [...new Map(found.unwatchable.map((u) => [fingerprintOf(u.subject), u])).values()];
  const subjects = listed.map((u) => u.subject);
  const now = new Set(subjects.map(fingerprintOf));
  const observations: TargetObservation[] = listed.map(({ subject, problem }) => ({
    target: root,
    obs: {
      subject,
      status: 'ERROR',
      errors: [{ ErrorCode: 'InvalidTarget', ErrorDescription: `CAMS lists this ${subject.templateCode !== undefined ? 'template' : 'number'}, but it cannot be checked: ${problem}`, PossibleSolution: 'The monitor does not watch it. Check its code and language in the CAMS console; the alert resolves when it is deleted there.' }],
    },
  }));
  // Listed again under another name (the space's WABA learnt since it was named): the old name goes.
  const listedKeys = new Set(subjects.filter((u) => u.templateCode !== undefined).map((u) => templateKey(u.templateCode, u.language)));
  for (const subject of previous) {
    const fp = fingerprintOf(subject);
    if (now.has(fp)) continue;
    // A template a listing that may have missed it (shifted or capped pages) neither showed (as
    // watchable, or under another name) nor found gone is kept.
    const key = templateKey(subject.templateCode, subject.language);
    if (subject.templateCode !== undefined && !found.templatesComplete && !found.goneTemplates.has(key) && !listedKeys.has(key) && !found.templates.some((t) => templateKey(t.target.TemplateCode, t.target.Language) === key)) {
      subjects.push(subject);
      continue;
    }
    if (!(await stillBad(store, subject))) continue;
    observations.push({ target: root, obs: { subject, status: 'AVAILABLE', errors: [] } });
    // Remembered until a listing finds it resolved: the record is written before the sweep applies
    // this, and a process that died between would leave it bad with nothing to resolve it.
    subjects.push(subject);
  }
  // The ones a capped listing looked up go last: the next listing looks up the others first (lookUpUnseen).
  const lookedUp = (s: AlertSubject) => found.lookedUp.has(templateKey(s.templateCode, s.language));
  return { subjects: [...subjects.filter((s) => !lookedUp(s)), ...subjects.filter(lookedUp)], observations };
}

/**
 * How long a node a receipt put under watch is kept though no listing shows it: CAMS pushed a receipt
 * about it, so it exists, and a listing taken right after may not show it yet. Retiring it would
 * resolve its alert, and the listing that then shows it would raise it again.
 */
const RECEIPT_NODE_GRACE_MS = 60 * 60_000;

function listingMayLag(node: RegisteredTarget, seenAt: number): boolean {
  return node.source.startsWith('receipt:') && node.attributes?.SeenAt === undefined && seenAt - Date.parse(node.registeredAt) < RECEIPT_NODE_GRACE_MS;
}

async function reconcile(
  opts: DiscoveryOptions,
  rootId: string,
  space: string,
  found: Found,
  children: ReadonlyArray<{ key: string; version: string; value: RegisteredTarget }>,
): Promise<{ added: number; retired: number; observations: TargetObservation[] }> {
  const { store } = opts;
  const seenAt = opts.clock();
  const wanted = new Set<string>();
  const observations: TargetObservation[] = [];
  let added = 0;
  const upsert = async (target: WatchTarget, attrs: (prev: NodeAttributes | undefined) => NodeAttributes) => {
    const key = WATCH_PREFIX + targetId(target);
    wanted.add(key);
    let previous: NodeAttributes | undefined;
    const after = await update<RegisteredTarget>(store, key, (cur) => {
      previous = cur?.attributes;
      if (!cur) {
        added++;
        return { target, source: `discovery:${rootId}`, registeredAt: new Date(seenAt).toISOString(), discoveredBy: rootId, attributes: attrs(undefined) };
      }
      // A node a receipt put under watch was no one's pick: the entry that lists it owns it from now on.
      const adopt = cur.discoveredBy === undefined && cur.source.startsWith('receipt:') ? { discoveredBy: rootId } : {};
      return { ...cur, ...adopt, attributes: attrs(cur.attributes) };
    });
    // Its watch entry (the record its alerts are reached by): another Discover entry of the space
    // (another WabaId) may have added it, or a caller without a WabaId.
    const stored = parseStoredNode(after?.value.target);
    return { previous, current: after?.value.attributes, watched: stored.success ? stored.data : target };
  };

  // A number's quality and a template's review are one entity whichever entry lists the node, and
  // the one receipts observe (named by CAMS's WabaId): named by the space's WABA, as the unwatchable
  // nodes' alerts are, not by the WabaId its watch entry was given (none, posted by hand without it).
  const bySpaceWaba = (t: WatchTarget): WatchTarget => (found.subjectWaba ? { ...t, WabaId: found.subjectWaba } : t);

  // Nodes taken off the watch list by hand stay off: not listed back, not observed.
  // Only the root's space: every node it lists is there. One still listed keeps its record alive.
  const removed = await removedInSpace(store, space, seenAt);
  const kept = <T extends { target: WatchTarget }>(nodes: readonly T[]) => nodes.filter((x) => !removed.has(targetId(x.target)));
  for (const x of [...found.phones, ...found.templates]) {
    const r = removed.get(targetId(x.target));
    if (r) await keptOff(store, r, seenAt);
  }

  for (const { target: listed, info, readAt } of kept(found.phones)) {
    const { current, watched: target } = await upsert(listed, (prev) => {
      const peak = tierRank(info.MessagingLimitTier) >= tierRank(prev?.PeakMessagingLimitTier) ? info.MessagingLimitTier : prev?.PeakMessagingLimitTier;
      return dropUndefined({ QualityRating: info.QualityRating, MessagingLimitTier: info.MessagingLimitTier, PeakMessagingLimitTier: peak, Status: info.Status, SeenAt: seenAt });
    });
    // Not over a rating a receipt said since the read, but with the tier listed (check.ts applyObservation).
    const obs = { ...qualityObservation(bySpaceWaba(target), current ?? {}), readAt };
    observations.push({ target, obs });
    // The same rating named by another WabaId, as earlier versions named it (the listing entry's, one
    // alert per Discover entry of the space; the watch entry's): nothing observes that name again, and
    // its reminders went on for ever. Resolved; read only when a name differs (an odd watch list).
    for (const wabaId of new Set([listed.WabaId, target.WabaId])) {
      if (wabaId === obs.subject.wabaId) continue;
      const { subject } = qualityObservation(dropUndefined({ ...target, WabaId: wabaId }), {});
      if (await stillBad(store, subject)) observations.push({ target, obs: { subject, status: 'AVAILABLE', errors: [] } });
    }
  }
  for (const { target: listed, info, readAt } of kept(found.templates)) {
    const { watched: target } = await upsert(listed, () => dropUndefined({ AuditStatus: info.AuditStatus, SeenAt: seenAt }));
    // The listing is the backstop of template receipts (a lost `pass`, a late retry of an older push):
    // the review it sees is observed as a receipt's is, for a template a receipt gave a review state.
    // It starts none: a template no receipt flagged leaves no entity behind, and one rejected before
    // it was watched is its check's alert (MESSAGE_TEMPLATE), not a second one. It says only pass,
    // fail, auditing or unaudit: a paused or disabled template is listed as pass, so it corrects a
    // rejection only, never a pause or a disabling it cannot see.
    const obs = info.AuditStatus ? templateStatusObservation(bySpaceWaba(target), info.AuditStatus, info.Reason) : undefined;
    const known = obs && (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(obs.subject)))?.value;
    // Not over a review a receipt said since the page was read (a `pass` after it listed `fail`).
    if (obs && known && (info.AuditStatus === 'fail' || known.errors.every((e) => e.ErrorCode === REJECTED_CODE))) observations.push({ target, obs: { ...obs, readAt } });
  }

  let retired = 0;
  for (const c of children) {
    const template = c.value.target.NodeType === 'template';
    if (wanted.has(c.key) || (template && !found.templatesComplete && !found.goneTemplates.has(templateKey(c.value.target.TemplateCode, c.value.target.Language)))) continue;
    if (listingMayLag(c.value, seenAt)) continue;
    if (await store.delete(c.key, { ifVersion: c.version })) retired++;
  }
  return { added, retired, observations };
}

/** The share of a listing's time left that its QueryChatappBindWaba may take. */
const BIND_QUERY_SHARE = 0.5;

/** What one QueryChatappBindWaba said of a Discover entry's space, and when it was asked (alert clock). */
interface BoundWaba {
  id: string | undefined;
  status: string | undefined;
  readAt: number;
}

/**
 * The space's WABA as CAMS binds it: one QueryChatappBindWaba per listing (at discovery's priority),
 * asked before the listing. The reply's Id is CAMS's word on the space's WABA: one the index
 * (`knownWaba`) does not have is written to it, so a wrong WabaId a Discover entry's poster typed,
 * which the index took while it knew none, is put right; the usual reply, naming the known one,
 * writes nothing. Undefined when the query fails or is refused (logged): the listing goes on, named
 * by the index, and the review alert is left as it was. It has half the time left (BIND_QUERY_SHARE),
 * the listing the rest.
 */
async function readBoundWaba(opts: DiscoveryOptions, waba: WatchTarget, knownWaba: string | undefined): Promise<BoundWaba | undefined> {
  // Applied after the whole listing: a review receipt applied in between is newer than this read.
  const readAt = opts.clock();
  try {
    // Half the time left at most: asked before the listing, a query CAMS does not answer would
    // otherwise take all of it, and the listing, which goes on without the query, would not run.
    const queryBy = opts.now() + Math.max(0, opts.deadline - opts.now()) * BIND_QUERY_SHARE;
    const { data } = await opts.cams.queryBindWaba({ CustSpaceId: waba.CustSpaceId }, discoveryCallOptions(queryBy));
    if (data.Id && data.Id !== knownWaba) await writeWabaSpace(opts.store, data.Id, waba.CustSpaceId);
    return { id: data.Id || undefined, status: data.AccountReviewStatus, readAt };
  } catch (e) {
    if (!isCamsError(e)) throw e;
    opts.log({ level: 'warn', msg: "discovery could not read the WABA's review status; its review alert is left as it was", waba: targetId(waba), code: e.Code });
    return undefined;
  }
}

/**
 * The backstop of `wabaReviewUpdate` receipts: the WABA's AccountReviewStatus, as readBoundWaba read
 * it, through the receipts' description (waba-review.ts). REJECTED or DISABLED is observed whether or
 * not a receipt said it, so one nobody pushed is found; APPROVED only resolves a review still bad
 * (its receipt lost), so a WABA never rejected has no entity of it. A failed or refused query changes
 * nothing, as a failed listing.
 */
async function reviewOutcome(opts: DiscoveryOptions, waba: WatchTarget, bound: BoundWaba | undefined, spaceWaba: string | undefined): Promise<TargetObservation[]> {
  const status = bound?.status;
  if (!bound || !status) return [];
  // Named as the listing names its nodes' alerts (`spaceWaba`: the id CAMS names, else the index's,
  // else the entry's), as a receipt's WabaId names it: the same entity from both. By the entry's own
  // WabaId when a reply had no Id, a wrong one a poster typed raised a second review alert.
  const obs = wabaReviewObservation({ CustSpaceId: waba.CustSpaceId, WabaId: spaceWaba }, status);
  if (!obs) {
    if (!isAccountReviewStatus(status)) opts.log({ level: 'warn', msg: 'QueryChatappBindWaba gave a review status its page does not list; kept as data, not alerted', waba: targetId(waba), status: status.slice(0, NAME_MAX) });
    return [];
  }
  if (obs.status === 'AVAILABLE' && !(await stillBad(opts.store, obs.subject))) return [];
  return [{ target: waba, obs: { ...obs, readAt: bound.readAt } }];
}

/**
 * Discovery refused by CAMS (a WABA not ours, a role without cams:QueryChatappPhoneNumbers or
 * cams:ListChatappTemplate) is the monitor's own failure, alerted like the others; a listing that
 * works again resolves it.
 */
function discoveryOutcome(waba: WatchTarget, e?: CamsError): Observation {
  return {
    subject: { nodeType: 'monitor', entityType: 'DiscoveryFailed', custSpaceId: waba.CustSpaceId, ...(waba.WabaId ? { wabaId: waba.WabaId } : {}) },
    status: e ? 'ERROR' : 'AVAILABLE',
    errors: e ? [{ ErrorCode: e.Code, ErrorDescription: e.Message, PossibleSolution: adviceFor(e) }] : [],
  };
}

/**
 * Whether a DiscoveryFailed entity is in a bad state: firing, or not yet (ALERT_MIN_CONSECUTIVE above
 * 1), which the report and the status page show as it is until an observation says otherwise.
 */
async function stillBad(store: Store, subject: AlertSubject): Promise<boolean> {
  const s = (await store.get<EntityState>(ENTITY_PREFIX + fingerprintOf(subject)))?.value;
  return s !== undefined && (s.firing || s.status !== 'AVAILABLE');
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
