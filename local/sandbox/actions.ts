import type {
  CamsAction,
  CamsData,
  CanSendMessage,
  HealthEntity,
  NodeType,
} from '../../shared/cams/operations.ts';
import { businessErrorReply, errors, okReply, okTopLevelReply, type CamsReply } from './replies.ts';
import { PHONE_DEFAULTS, type NodeHealth, type NodeRef, type OwnWaba, type SandboxState, type Space } from './state.ts';

export type Params = Record<string, string>;

/** Thrown by the param checks so each operation reads as a straight line; caught in runAction. */
class Rejection extends Error {
  constructor(readonly reply: CamsReply) {
    super(reply.code);
  }
}

export const NODE_TYPES: readonly NodeType[] = ['waba', 'phone', 'template'];
const SEVERITY: Record<CanSendMessage, number> = { AVAILABLE: 0, LIMITED: 1, BLOCKED: 2 };

/** Runs one authenticated, admitted CAMS call for `account` and builds its reply. */
export function runAction(action: CamsAction, account: string, params: Params, state: SandboxState, nowMs: number): CamsReply {
  try {
    switch (action) {
      case 'ChatappBindWaba':
        return bindWaba(account, params, state, nowMs);
      case 'QueryChatappBindWaba':
        return queryBindWaba(account, params, state);
      case 'AddChatappPhoneNumber':
        return addPhoneNumber(account, params, state);
      case 'GetWhatsappHealthStatus':
        return healthStatus(account, params, state);
      case 'QueryChatappPhoneNumbers':
        return queryPhoneNumbers(account, params, state);
      case 'ListChatappTemplate':
        return listTemplates(account, params, state);
    }
  } catch (e) {
    if (e instanceof Rejection) return e.reply;
    throw e;
  }
}

function bindWaba(account: string, params: Params, state: SandboxState, nowMs: number): CamsReply {
  const wabaId = required(params, 'WabaId');
  if (!/^\d{1,32}$/.test(wabaId)) throw new Rejection(errors.invalidParameter('WabaId', 'it must be 1-32 digits.'));
  const bound = state.bindWaba(account, wabaId, nowMs);
  if (!bound.ok) throw new Rejection(errors.resourceOwner());
  const data: CamsData['ChatappBindWaba'] = { CustSpaceId: bound.space.custSpaceId, WabaId: bound.space.wabaId };
  return okReply(data, 'None');
}

/**
 * With CustSpaceId: the WABA of that ISV sub-customer's space. Without: the caller's own WABA, as a
 * direct customer (one per account; see PUT /__sandbox/own-waba). IsvCode is taken and not checked.
 */
function queryBindWaba(account: string, params: Params, state: SandboxState): CamsReply {
  const custSpaceId = params['CustSpaceId']?.trim();
  let waba: OwnWaba;
  let sinceMs: number;
  if (custSpaceId) {
    const space = ownSpace(account, custSpaceId, state);
    waba = space;
    sinceMs = space.boundAtMs;
  } else {
    waba = state.ownWaba(account);
    sinceMs = OWN_WABA_SINCE_MS;
  }
  const data: CamsData['QueryChatappBindWaba'] = {
    Id: waba.wabaId,
    Name: waba.name,
    AccountReviewStatus: waba.reviewStatus,
    Currency: 'USD',
    MessageTemplateNamespace: waba.messageTemplateNamespace,
    BusinessId: waba.businessId,
    BusinessName: waba.businessName,
    PrimaryBusinessLocation: 'SG',
    AuthInternationalRateEligibility: { start_time: Math.floor(sinceMs / 1000), exception_countries: [] },
  };
  return okReply(data, 'SUCCESS');
}

/** The seed's start_time (2024-07-26): a direct customer's WABA predates the sandbox. */
const OWN_WABA_SINCE_MS = 1_721_952_000_000;

function addPhoneNumber(account: string, params: Params, state: SandboxState): CamsReply {
  const custSpaceId = required(params, 'CustSpaceId');
  const cc = required(params, 'Cc');
  const phoneNumber = required(params, 'PhoneNumber');
  const verifiedName = required(params, 'VerifiedName');
  if (!/^\d{1,3}$/.test(cc)) throw new Rejection(errors.invalidParameter('Cc', 'the country code must be 1-3 digits, without "+".'));
  if (!/^\d+$/.test(phoneNumber)) throw new Rejection(errors.invalidParameter('PhoneNumber', 'it must be digits only.'));
  if (cc.length + phoneNumber.length > 15) {
    throw new Rejection(errors.invalidParameter('PhoneNumber', 'Cc and PhoneNumber together must be at most 15 digits (E.164).'));
  }
  const nameLength = [...verifiedName.trim()].length;
  if (nameLength < 3 || nameLength > 512) {
    throw new Rejection(errors.invalidParameter('VerifiedName', 'it must be 3-512 characters.'));
  }
  const space = ownSpace(account, custSpaceId, state);
  const added = state.addPhone(space, { cc, phoneNumber, verifiedName });
  if (!added.ok) return businessErrorReply('Phone.Exists', `The phone number +${cc}${phoneNumber} has already been added.`);
  return okReply(undefined, 'None');
}

function healthStatus(account: string, params: Params, state: SandboxState): CamsReply {
  const custSpaceId = required(params, 'CustSpaceId');
  const nodeType = required(params, 'NodeType');
  if (!isNodeType(nodeType)) throw new Rejection(errors.invalidParameter('NodeType', `it must be one of ${NODE_TYPES.join(', ')}.`));
  const node = nodeFromParams(nodeType, params);
  const space = ownSpace(account, custSpaceId, state);
  // Blank is absent, as for every other param: the space's own WABA.
  const wabaId = params['WabaId']?.trim();
  if (wabaId && wabaId !== space.wabaId) throw new Rejection(errors.resourceOwner());
  // A phone never added or a template the space does not have: the seeds document one code for a
  // resource the caller cannot address, Unknown.ResourceOwnerId, and no not-found code, so that one.
  const resolved = resolveNode(state, space, node);
  if (!state.hasNode(space, resolved)) throw new Rejection(errors.resourceOwner());
  return okReply(healthReport(state, space, resolved), 'None');
}

/**
 * Every number of a space with Meta's view of it, in the reference page's field names, beside Code
 * (no `Data`). Without CustSpaceId: the caller's own WABA, which has no numbers in the sandbox.
 * `Status` filters by the number's status.
 */
function queryPhoneNumbers(account: string, params: Params, state: SandboxState): CamsReply {
  const custSpaceId = params['CustSpaceId']?.trim();
  const status = params['Status']?.trim();
  const space = custSpaceId ? ownSpace(account, custSpaceId, state) : undefined;
  const phones = space ? [...space.phones.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) : [];
  const PhoneNumbers = phones
    .map(([full, p]) => ({
      PhoneNumber: full,
      VerifiedName: p.verifiedName,
      Status: p.status ?? PHONE_DEFAULTS.status,
      QualityRating: p.qualityRating ?? PHONE_DEFAULTS.qualityRating,
      MessagingLimitTier: p.messagingLimitTier ?? PHONE_DEFAULTS.messagingLimitTier,
      CodeVerificationStatus: 'VERIFIED',
      NameStatus: 'Approval',
      NewNameStatus: 'None',
      IsOfficial: 'N',
      StatusCallbackUrl: '',
      UpCallbackUrl: '',
      StatusQueue: '',
      UpQueue: '',
    }))
    .filter((p) => !status || p.Status === status);
  return okTopLevelReply({ PhoneNumbers }, 'SUCCESS');
}

const AUDIT_STATUSES = ['pass', 'fail', 'auditing', 'unaudit'];

/**
 * A space's templates, filtered as the reference page lists (Code, Name, Language, AuditStatus,
 * TemplateType, Category), one page at a time: `Page` is the JSON the official SDK sends
 * (`{"Index":1,"Size":10}`, both optional, defaults 1 and 10); `Page.Index`/`Page.Size` (pop-core's
 * flat form) are read too. Reply: `ListTemplate` and `Total` beside Code (no `Data`).
 */
function listTemplates(account: string, params: Params, state: SandboxState): CamsReply {
  const custSpaceId = params['CustSpaceId']?.trim();
  const space = custSpaceId ? ownSpace(account, custSpaceId, state) : undefined;
  const audit = params['AuditStatus']?.trim();
  if (audit && !AUDIT_STATUSES.includes(audit)) throw new Rejection(errors.invalidParameter('AuditStatus', `it must be one of ${AUDIT_STATUSES.join(', ')}.`));
  const { index, size } = pageOf(params);
  const filters: Array<[string | undefined, (t: { code: string; language: string; audit: string; category: string }) => string]> = [
    [params['Code']?.trim(), (t) => t.code],
    [params['Name']?.trim(), (t) => t.code],
    [params['Language']?.trim(), (t) => t.language],
    [audit, (t) => t.audit],
    [params['Category']?.trim(), (t) => t.category],
  ];
  const templateType = params['TemplateType']?.trim();
  const all = (space ? state.templatesOf(space) : [])
    .map((t) => ({ code: t.templateCode, language: t.language, audit: listedAudit(t.meta.auditStatus), category: t.meta.category ?? 'UTILITY', reason: t.meta.reason }))
    .filter((t) => filters.every(([want, get]) => !want || get(t) === want))
    .filter(() => !templateType || templateType === 'WHATSAPP');
  const ListTemplate = all.slice((index - 1) * size, index * size).map((t) => ({
    TemplateCode: t.code,
    TemplateName: t.code,
    Language: t.language,
    AuditStatus: t.audit,
    Category: t.category,
    TemplateType: 'WHATSAPP',
    Reason: t.reason ?? 'None',
  }));
  return okTopLevelReply({ ListTemplate, Total: all.length }, 'SUCCESS');
}

/**
 * The review state as the listing gives it: its page documents pass, fail, auditing and unaudit
 * only, so a template Meta paused or disabled after approving it (which a `template` receipt says)
 * is listed as the review left it, pass. An assumption, the one the monitor's discovery makes too.
 */
function listedAudit(auditStatus: string): string {
  return auditStatus === 'paused' || auditStatus === 'disabled' ? 'pass' : auditStatus;
}

function pageOf(params: Params): { index: number; size: number } {
  let raw: Record<string, unknown> = {};
  const page = params['Page']?.trim();
  if (page) {
    try {
      const parsed: unknown = JSON.parse(page);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      raw = parsed as Record<string, unknown>;
    } catch {
      throw new Rejection(errors.invalidParameter('Page', 'it must be a JSON object such as {"Index":1,"Size":10}.'));
    }
  }
  const num = (name: 'Index' | 'Size', fallback: number): number => {
    const v = raw[name] ?? params[`Page.${name}`];
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new Rejection(errors.invalidParameter(`Page.${name}`, 'it must be a whole number of at least 1.'));
    return n;
  };
  return { index: num('Index', 1), size: num('Size', 10) };
}

/**
 * Reads the node a health call (or the control API) names from its params. Throws a Rejection
 * naming the missing or malformed field.
 */
function nodeFromParams(nodeType: NodeType, params: Params): NodeRef {
  switch (nodeType) {
    case 'waba':
      return { type: 'waba' };
    case 'phone': {
      const raw = required(params, 'PhoneNumber');
      const digits = raw.startsWith('+') ? raw.slice(1) : raw;
      if (!/^\d{1,15}$/.test(digits)) {
        throw new Rejection(errors.invalidParameter('PhoneNumber', 'it must be up to 15 digits, country code first.'));
      }
      return { type: 'phone', phoneNumber: digits };
    }
    case 'template':
      return { type: 'template', templateCode: required(params, 'TemplateCode'), language: required(params, 'Language') };
  }
}

/** A phone given without its country code means the space's phone with that national number. */
export function resolveNode(state: SandboxState, space: Space, node: NodeRef): NodeRef {
  return node.type === 'phone' ? { type: 'phone', phoneNumber: state.resolvePhone(space, node.phoneNumber) } : node;
}

/**
 * The entities Meta reports for a node: the node itself and the ones above it. Meta's health-status
 * page: the WABA, business and app are always included (a WABA's too), a phone or template first.
 * The overall value is the worst entity's.
 */
function healthReport(state: SandboxState, space: Space, node: NodeRef): CamsData['GetWhatsappHealthStatus'] {
  const base = { WabaId: space.wabaId, BusinessId: space.businessId };
  type SandboxEntity = HealthEntity & { CanSendMessage: CanSendMessage };
  const entity = (EntityType: string, health: NodeHealth, extra: Partial<HealthEntity> = {}): SandboxEntity => ({
    EntityType,
    ...base,
    ...extra,
    CanSendMessage: health.CanSendMessage,
    // CAMS sends the list even when it is empty.
    Errors: health.Errors ?? [],
  });
  const available: NodeHealth = { CanSendMessage: 'AVAILABLE' };
  const waba = entity('WABA', state.healthOf(space, { type: 'waba' }));
  const business = entity('BUSINESS', available);
  const app = entity('APP', available);

  let entities: SandboxEntity[];
  switch (node.type) {
    case 'waba':
      entities = [waba, business, app];
      break;
    case 'phone':
      entities = [entity('PHONE_NUMBER', state.healthOf(space, node), { PhoneNumber: node.phoneNumber }), waba, business, app];
      break;
    case 'template':
      entities = [
        entity('MESSAGE_TEMPLATE', state.healthOf(space, node), { TemplateCode: node.templateCode, Language: node.language }),
        waba,
        business,
        app,
      ];
      break;
  }
  const worst = entities.reduce<CanSendMessage>(
    (acc, e) => (SEVERITY[e.CanSendMessage] > SEVERITY[acc] ? e.CanSendMessage : acc),
    'AVAILABLE',
  );
  return { CanSendMessage: worst, Entities: entities };
}

function ownSpace(account: string, custSpaceId: string, state: SandboxState): Space {
  const space = state.spaceOf(account, custSpaceId);
  if (!space) throw new Rejection(errors.resourceOwner());
  return space;
}

function required(params: Params, name: string): string {
  const value = params[name];
  if (value === undefined || value.trim() === '') throw new Rejection(errors.missingParameter(name));
  return value.trim();
}

export function isNodeType(value: string): value is NodeType {
  return (NODE_TYPES as readonly string[]).includes(value);
}

/** For the control API: the same checks, with the failure as a message instead of a CAMS reply. */
export function nodeFromParamsOrMessage(nodeType: NodeType, params: Params): NodeRef | string {
  try {
    return nodeFromParams(nodeType, params);
  } catch (e) {
    if (e instanceof Rejection) return String(e.reply.body['Message']);
    throw e;
  }
}
