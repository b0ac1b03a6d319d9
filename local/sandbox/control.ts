import { z } from 'zod';
import { CAMS_ACTIONS } from '../../shared/cams/operations.ts';
import { isNodeType, nodeFromParamsOrMessage, resolveNode, NODE_TYPES } from './actions.ts';
import type { CallLog } from './calls.ts';
import { NO_FAULTS, type FaultInjector } from './faults.ts';
import type { QpsLimiter } from './limits.ts';
import { RECEIPT_FORMATS, redactToken, type ReceiptPusher } from './receipts.ts';
import { PHONE_DEFAULTS, type SandboxState } from './state.ts';

/** The unsigned JSON API under /__sandbox/ that tests and developers use to steer the sandbox. */
export const CONTROL_PREFIX = '/__sandbox/';

export interface ControlDeps {
  /** The AccessKey ids the sandbox accepts: each is an account with its own WABA. */
  accounts: readonly string[];
  state: SandboxState;
  faults: FaultInjector;
  calls: CallLog;
  limiter: QpsLimiter;
  receipts: ReceiptPusher;
}

export interface ControlReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const CanSendMessageSchema = z.enum(['AVAILABLE', 'LIMITED', 'BLOCKED']);

const HealthBody = z.strictObject({
  CustSpaceId: z.string().min(1),
  NodeType: z.string(),
  WabaId: z.string().optional(),
  PhoneNumber: z.string().optional(),
  TemplateCode: z.string().optional(),
  Language: z.string().optional(),
  CanSendMessage: CanSendMessageSchema,
  Errors: z
    .array(
      z.strictObject({
        // Meta's codes are numbers ("141006"); accept either and keep the wire type, a string.
        ErrorCode: z.union([z.string().min(1), z.number()]).transform(String),
        ErrorDescription: z.string().optional(),
        PossibleSolution: z.string().optional(),
      }),
    )
    .max(50)
    .optional(),
});

const FaultsBody = z.strictObject({
  throttleRate: z.number().min(0).max(1).optional(),
  errorRate: z.number().min(0).max(1).optional(),
  latencyMs: z.number().int().min(0).max(60_000).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  denials: z
    .array(
      z.strictObject({
        code: z.enum(['Ram.PermissionDeny', 'Product.Unsubscript']),
        accessKeyId: z.string().min(1).optional(),
        action: z.enum(CAMS_ACTIONS).optional(),
      }),
    )
    .max(100)
    .optional(),
  expiredTokens: z.array(z.string().min(1)).max(100).optional(),
});

const WabaBody = z.strictObject({
  CustSpaceId: z.string().min(1),
  AccountReviewStatus: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'DISABLED']),
});

const OwnWabaBody = z.strictObject({
  AccessKeyId: z.string().min(1),
  WabaId: z.string().regex(/^\d{1,32}$/, 'must be 1-32 digits').optional(),
  Name: z.string().min(1).max(512).optional(),
  BusinessName: z.string().min(1).max(512).optional(),
  AccountReviewStatus: z.enum(['PENDING', 'APPROVED', 'REJECTED', 'DISABLED']).optional(),
});

// ChatAppAudit's review states (notes/receipts.md): the four ListChatappTemplate lists, and Meta's
// later paused / disabled, which only a `template` receipt says (the listing shows them as pass).
const AuditStatus = z.enum(['pass', 'fail', 'auditing', 'unaudit', 'paused', 'disabled']);

const TemplatesBody = z.strictObject({
  CustSpaceId: z.string().min(1),
  Templates: z
    .array(
      z.strictObject({
        TemplateCode: z.string().trim().min(1),
        Language: z.string().trim().min(1),
        AuditStatus: AuditStatus.optional(),
        Category: z.enum(['UTILITY', 'MARKETING', 'AUTHENTICATION']).optional(),
        Reason: z.string().max(512).optional(),
      }),
    )
    .min(1)
    .max(1000),
});

const TemplatesDeleteBody = z.strictObject({
  CustSpaceId: z.string().min(1),
  Templates: z.array(z.strictObject({ TemplateCode: z.string().trim().min(1), Language: z.string().trim().min(1) })).min(1).max(1000),
});

// The values the reference page of QueryChatappPhoneNumbers lists (tiers also in Meta's older names,
// and TIER_2K, which took Meta's 1K step's place: the monitor ranks it, so the sandbox can report it).
const PhoneBody = z.strictObject({
  CustSpaceId: z.string().min(1),
  PhoneNumber: z.string().regex(/^\d{1,15}$/, 'must be the whole number, country code first, digits only'),
  QualityRating: z.enum(['GREEN', 'YELLOW', 'RED', 'UNKNOWN']).optional(),
  MessagingLimitTier: z.enum(['TIER_10', 'TIER_50', 'TIER_250', 'TIER_1K', 'TIER_2K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED']).optional(),
  Status: z
    .enum(['CONNECTED', 'FLAGGED', 'RATE_LIMITED', 'PENDING', 'OFFLINE', 'PAUSED', 'DELETED', 'MIGRATED', 'DISCONNECTED', 'UNVERIFIED', 'BANNED', 'RESTRICTED', 'UNKNOWN'])
    .optional(),
});

const PhoneDeleteBody = z.strictObject({ CustSpaceId: z.string().min(1), PhoneNumber: z.string().regex(/^\d{1,15}$/, 'must be the whole number, country code first') });

const URL_EXPECTED = 'must be an http(s) URL, or "" or null to stop pushing';
const ReceiptsBody = z.strictObject({
  // null or "" turns pushing off. Required, so a PUT of Format alone says so rather than zod's "Invalid input".
  Url: z.union([z.url({ protocol: /^https?$/, error: URL_EXPECTED }), z.literal(''), z.null()], {
    error: (iss) => (iss.input === undefined ? `is required: ${URL_EXPECTED.slice('must be '.length)}` : URL_EXPECTED),
  }),
  DropRate: z.number().min(0).max(1).optional(),
  Seed: z.number().int().min(0).max(0xffffffff).optional(),
  Format: z.enum(RECEIPT_FORMATS).optional(),
});

type Route = (body: Buffer, deps: ControlDeps, query: Readonly<Record<string, string>>) => ControlReply | Promise<ControlReply>;

const ROUTES: Record<string, Partial<Record<string, Route>>> = {
  health: { PUT: putHealth },
  faults: { GET: (_b, d) => ok(d.faults.current), PUT: putFaults },
  calls: { GET: getCalls },
  stats: { GET: (_b, d) => ok(d.calls.stats()) },
  reset: { POST: reset },
  waba: { PUT: putWaba },
  'own-waba': { GET: (_b, d) => ok(d.accounts.map((a) => ownWabaView(a, d))), PUT: putOwnWaba },
  templates: { PUT: putTemplates, DELETE: deleteTemplates },
  phone: { PUT: putPhone, DELETE: deletePhone },
  receipts: { GET: (_b, d) => ok(receiptsView(d)), PUT: putReceipts },
  'receipts/push': { POST: pushReceipts },
};

/** The control endpoints, as the sandbox's banner lists them. */
export const CONTROL_ENDPOINTS: readonly string[] = Object.keys(ROUTES);

export function handleControl(method: string, path: string, body: Buffer, deps: ControlDeps, query: Readonly<Record<string, string>> = {}): ControlReply | Promise<ControlReply> {
  const name = path.slice(CONTROL_PREFIX.length);
  const routes = Object.hasOwn(ROUTES, name) ? ROUTES[name] : undefined;
  if (!routes) return fail(404, 'NotFound', `No control endpoint ${path}. Known: ${Object.keys(ROUTES).map((r) => CONTROL_PREFIX + r).join(', ')}.`);
  const route = routes[method];
  if (!route) {
    const allowed = Object.keys(routes).join(', ');
    return { ...fail(405, 'MethodNotAllowed', `${path} accepts ${allowed}.`), headers: { allow: allowed } };
  }
  return route(body, deps, query);
}

/** The call log; `?after=<Seq>` gives only the calls logged after that one, so a poller reads each record once. */
function getCalls(_body: Buffer, deps: ControlDeps, query: Readonly<Record<string, string>>): ControlReply {
  const raw = query['after'];
  if (raw === undefined) return ok(deps.calls.list());
  if (!/^\d{1,15}$/.test(raw)) return invalid(`after: must be a whole number (a call's Seq), got ${JSON.stringify(raw.slice(0, 40))}`);
  return ok(deps.calls.list(Number(raw)));
}

function putHealth(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, HealthBody);
  if (!parsed.ok) return parsed.reply;
  const input = parsed.value;
  if (!isNodeType(input.NodeType)) return invalid(`NodeType: must be one of ${NODE_TYPES.join(', ')}`);
  const space = deps.state.findSpace(input.CustSpaceId);
  if (!space) return noSuchSpace(input.CustSpaceId);
  if (input.WabaId !== undefined && input.WabaId !== space.wabaId) {
    return invalid(`WabaId: the space ${space.custSpaceId} holds the WABA ${space.wabaId}, not ${input.WabaId}`);
  }
  const params: Record<string, string> = {};
  for (const k of ['PhoneNumber', 'TemplateCode', 'Language'] as const) if (input[k] !== undefined) params[k] = input[k];
  const node = nodeFromParamsOrMessage(input.NodeType, params);
  if (typeof node === 'string') return invalid(node);
  const resolved = resolveNode(deps.state, space, node);
  // A template comes to exist by having its health set; a phone must have been added through CAMS.
  if (resolved.type === 'phone' && !deps.state.hasNode(space, resolved)) {
    return invalid(`PhoneNumber: the space ${space.custSpaceId} has no phone ${resolved.phoneNumber}; add it with AddChatappPhoneNumber first`);
  }
  const before = deps.state.healthOf(space, resolved);
  deps.state.setHealth(space, resolved, {
    CanSendMessage: input.CanSendMessage,
    ...(input.Errors ? { Errors: input.Errors } : {}),
  });
  // As CAMS does once a callback URL is set: the change is pushed as a receipt.
  deps.receipts.notifyHealthChange(space, resolved, before, deps.state.healthOf(space, resolved));
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, Node: resolved, Health: deps.state.healthOf(space, resolved) });
}

function putFaults(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, FaultsBody);
  if (!parsed.ok) return parsed.reply;
  const unknownKey = parsed.value.denials?.findIndex((d) => d.accessKeyId !== undefined && !deps.accounts.includes(d.accessKeyId)) ?? -1;
  if (unknownKey >= 0) return invalid(`denials.${unknownKey}.accessKeyId: ${parsed.value.denials![unknownKey]!.accessKeyId} is not one of the sandbox's keys`);
  // PUT replaces: a field left out goes back to "no fault".
  deps.faults.set({ ...NO_FAULTS, ...parsed.value });
  return ok(deps.faults.current);
}

function putWaba(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, WabaBody);
  if (!parsed.ok) return parsed.reply;
  const space = deps.state.findSpace(parsed.value.CustSpaceId);
  if (!space) return noSuchSpace(parsed.value.CustSpaceId);
  const before = space.reviewStatus;
  deps.state.setReviewStatus(space, parsed.value.AccountReviewStatus);
  if (space.reviewStatus !== before) deps.receipts.notifyReviewChange(space.wabaId, space.reviewStatus);
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, AccountReviewStatus: space.reviewStatus });
}

function putOwnWaba(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, OwnWabaBody);
  if (!parsed.ok) return parsed.reply;
  const { AccessKeyId, WabaId, Name, BusinessName, AccountReviewStatus } = parsed.value;
  if (!deps.accounts.includes(AccessKeyId)) return invalid(`AccessKeyId: ${AccessKeyId} is not one of the sandbox's keys`);
  const before = deps.state.ownWaba(AccessKeyId);
  const after = deps.state.setOwnWaba(AccessKeyId, {
    ...(WabaId !== undefined ? { wabaId: WabaId } : {}),
    ...(Name !== undefined ? { name: Name } : {}),
    ...(BusinessName !== undefined ? { businessName: BusinessName } : {}),
    ...(AccountReviewStatus !== undefined ? { reviewStatus: AccountReviewStatus } : {}),
  });
  // The same WABA's review changing is pushed; a new WabaId is another WABA, not a review.
  if (after.wabaId === before.wabaId && after.reviewStatus !== before.reviewStatus) deps.receipts.notifyReviewChange(after.wabaId, after.reviewStatus);
  return ok(ownWabaView(AccessKeyId, deps));
}

function ownWabaView(account: string, deps: ControlDeps): Record<string, string> {
  const w = deps.state.ownWaba(account);
  return { AccessKeyId: account, WabaId: w.wabaId, Name: w.name, BusinessId: w.businessId, BusinessName: w.businessName, AccountReviewStatus: w.reviewStatus };
}

function putTemplates(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, TemplatesBody);
  if (!parsed.ok) return parsed.reply;
  const space = deps.state.findSpace(parsed.value.CustSpaceId);
  if (!space) return noSuchSpace(parsed.value.CustSpaceId);
  // Review states before the change: one that changes is pushed as CAMS pushes a template review.
  const before = parsed.value.Templates.map((t) => deps.state.templateReview(space, t.TemplateCode, t.Language));
  deps.state.addTemplates(
    space,
    parsed.value.Templates.map((t) => ({
      templateCode: t.TemplateCode,
      language: t.Language,
      ...(t.AuditStatus || t.Category || t.Reason
        ? { meta: { auditStatus: t.AuditStatus ?? 'pass', ...(t.Category ? { category: t.Category } : {}), ...(t.Reason ? { reason: t.Reason } : {}) } }
        : {}),
    })),
  );
  parsed.value.Templates.forEach((t, i) => {
    if (t.AuditStatus && t.AuditStatus !== before[i]) deps.receipts.notifyTemplateReview(space, t.TemplateCode, t.Language, t.AuditStatus, t.Reason);
  });
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, Templates: parsed.value.Templates });
}

function deleteTemplates(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, TemplatesDeleteBody);
  if (!parsed.ok) return parsed.reply;
  const space = deps.state.findSpace(parsed.value.CustSpaceId);
  if (!space) return noSuchSpace(parsed.value.CustSpaceId);
  const removed = parsed.value.Templates.filter((t) => deps.state.removeTemplate(space, t.TemplateCode, t.Language));
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, Removed: removed });
}

function putPhone(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, PhoneBody);
  if (!parsed.ok) return parsed.reply;
  const { CustSpaceId, PhoneNumber, QualityRating, MessagingLimitTier, Status } = parsed.value;
  const space = deps.state.findSpace(CustSpaceId);
  if (!space) return noSuchSpace(CustSpaceId);
  const ratingBefore = space.phones.get(PhoneNumber)?.qualityRating ?? PHONE_DEFAULTS.qualityRating;
  const phone = deps.state.setPhoneInfo(space, PhoneNumber, {
    ...(QualityRating ? { qualityRating: QualityRating } : {}),
    ...(MessagingLimitTier ? { messagingLimitTier: MessagingLimitTier } : {}),
    ...(Status ? { status: Status } : {}),
  });
  if (!phone) return invalid(`PhoneNumber: the space ${space.custSpaceId} has no phone ${PhoneNumber}; add it with AddChatappPhoneNumber first`);
  // As CAMS pushes Meta's quality change (phoneQualityUpdate) to the callback.
  if (QualityRating && QualityRating !== ratingBefore) deps.receipts.notifyQualityChange(space, PhoneNumber, QualityRating);
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, PhoneNumber, QualityRating: phone.qualityRating, MessagingLimitTier: phone.messagingLimitTier, Status: phone.status });
}

function deletePhone(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, PhoneDeleteBody);
  if (!parsed.ok) return parsed.reply;
  const space = deps.state.findSpace(parsed.value.CustSpaceId);
  if (!space) return noSuchSpace(parsed.value.CustSpaceId);
  if (!deps.state.removePhone(space, parsed.value.PhoneNumber)) {
    return invalid(`PhoneNumber: the space ${space.custSpaceId} has no phone ${parsed.value.PhoneNumber}`);
  }
  return ok({ Code: 'OK', CustSpaceId: space.custSpaceId, Removed: parsed.value.PhoneNumber });
}

function putReceipts(body: Buffer, deps: ControlDeps): ControlReply {
  const parsed = parseJson(body, ReceiptsBody);
  if (!parsed.ok) return parsed.reply;
  const url = parsed.value.Url || undefined;
  const dropRate = parsed.value.DropRate ?? 0;
  const format = parsed.value.Format ?? 'V2';
  deps.receipts.configure(url, dropRate, parsed.value.Seed, format);
  deps.state.setReceipts(url ? { url, dropRate, ...(format === 'V1' ? { format } : {}) } : undefined); // a restart keeps it
  return ok(receiptsView(deps));
}

function receiptsView(deps: ControlDeps): Record<string, unknown> {
  const r = deps.receipts;
  return {
    Url: r.url ? redactToken(r.url) : null,
    DropRate: r.dropRate,
    Format: r.format,
    Pushed: r.stats.pushed,
    Dropped: r.stats.dropped,
    Failed: r.stats.failed,
    Pending: r.pending,
    Retrying: r.retrying,
    Retried: r.stats.retried,
    GivenUp: r.stats.gaveUp,
  };
}

/** Raw receipts pushed as given (duplicates, unknown types, malformed ones): the receiver's answer is returned. */
async function pushReceipts(body: Buffer, deps: ControlDeps): Promise<ControlReply> {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return invalid('the body must be a JSON array of receipts');
  }
  if (!Array.isArray(raw)) return invalid('(body): must be a JSON array of receipts');
  if (!deps.receipts.url) return invalid('Url: no receipt URL is set; PUT /__sandbox/receipts {Url} first');
  const result = await deps.receipts.push(raw);
  return ok({ Code: 'OK', Receipts: raw.length, ...(result.status !== undefined ? { ReceiverStatus: result.status } : {}), ...(result.dropped ? { Dropped: true } : {}), ...(result.error ? { Error: result.error } : {}), ...(result.retrying ? { Retrying: true } : {}) });
}

function reset(_body: Buffer, deps: ControlDeps): ControlReply {
  deps.receipts.configure(undefined);
  deps.state.reset();
  deps.faults.reset();
  deps.calls.clear();
  deps.limiter.reset();
  return ok({ Code: 'OK' });
}

function parseJson<T>(body: Buffer, schema: z.ZodType<T>): { ok: true; value: T } | { ok: false; reply: ControlReply } {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reply: invalid('the body must be a JSON object') };
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    // An unknown key is named by its own path, as the routes name it (zod reports it on its object: "(body): Unrecognized key").
    const detail = result.error.issues
      .flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((k) => `${[...i.path, k].join('.')}: is not a field`) : [`${i.path.join('.') || '(body)'}: ${i.message}`]))
      .join('; ');
    return { ok: false, reply: invalid(detail) };
  }
  return { ok: true, value: result.data };
}

function ok(body: unknown): ControlReply {
  return { status: 200, body };
}

function invalid(message: string): ControlReply {
  return fail(400, 'InvalidInput', message);
}

function noSuchSpace(custSpaceId: string): ControlReply {
  return invalid(`CustSpaceId: no bound WABA has the space ${custSpaceId}`);
}

function fail(status: number, code: string, message: string): ControlReply {
  return { status, body: { Code: code, Message: message } };
}
