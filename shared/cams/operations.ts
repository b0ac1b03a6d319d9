/** The CAMS OpenAPI this project speaks: product `cams`, version 2020-06-06, RPC style, POST `/`. */
export const CAMS_VERSION = '2020-06-06';
export const CAMS_DEFAULT_ENDPOINT = 'https://cams.ap-southeast-1.aliyuncs.com';

export const CAMS_ACTIONS = [
  'ChatappBindWaba',
  'QueryChatappBindWaba',
  'AddChatappPhoneNumber',
  'GetWhatsappHealthStatus',
  'QueryChatappPhoneNumbers',
  'ListChatappTemplate',
] as const;
export type CamsAction = (typeof CAMS_ACTIONS)[number];

/** Documented per-account QPS limits (the seed pages and the CAMS API reference pages). */
export const CAMS_QPS: Readonly<Record<CamsAction, number>> = {
  ChatappBindWaba: 10,
  QueryChatappBindWaba: 10,
  AddChatappPhoneNumber: 10,
  GetWhatsappHealthStatus: 5,
  QueryChatappPhoneNumbers: 10,
  ListChatappTemplate: 5,
};

/**
 * Operations whose reply carries its payload beside Code/RequestId instead of under `Data`
 * (QueryChatappPhoneNumbers → `PhoneNumbers`, ListChatappTemplate → `ListTemplate` + `Total`, as in
 * the CAMS reference pages and the official SDK's response models).
 */
export const TOP_LEVEL_REPLY: ReadonlySet<CamsAction> = new Set<CamsAction>(['QueryChatappPhoneNumbers', 'ListChatappTemplate']);

export function isCamsAction(value: string): value is CamsAction {
  return (CAMS_ACTIONS as readonly string[]).includes(value);
}

export type CanSendMessage = 'AVAILABLE' | 'LIMITED' | 'BLOCKED';
export type NodeType = 'waba' | 'phone' | 'template';
/** QueryChatappBindWaba's AccountReviewStatus values, as its reference page lists them. */
export const ACCOUNT_REVIEW_STATUSES = ['PENDING', 'APPROVED', 'REJECTED', 'DISABLED'] as const;
export type AccountReviewStatus = (typeof ACCOUNT_REVIEW_STATUSES)[number];

/** Request params per operation, in CAMS wire names. */
export interface CamsParams {
  ChatappBindWaba: { WabaId: string };
  QueryChatappBindWaba: { CustSpaceId?: string; IsvCode?: string };
  AddChatappPhoneNumber: { CustSpaceId: string; Cc: string; PhoneNumber: string; VerifiedName: string; PreValidateId?: string };
  GetWhatsappHealthStatus: {
    CustSpaceId: string;
    NodeType: NodeType;
    WabaId?: string;
    PhoneNumber?: string;
    TemplateCode?: string;
    Language?: string;
  };
  QueryChatappPhoneNumbers: { CustSpaceId?: string; IsvCode?: string; Status?: string };
  ListChatappTemplate: {
    CustSpaceId?: string;
    IsvCode?: string;
    Name?: string;
    Code?: string;
    Language?: string;
    AuditStatus?: TemplateAuditStatus;
    TemplateType?: 'WHATSAPP' | 'VIBER';
    Category?: string;
    /** JSON `{"Index":1,"Size":20}`: the SDK sends the Page object as one JSON-encoded param. */
    Page?: string;
  };
}

/** ListChatappTemplate's review states. */
export type TemplateAuditStatus = 'pass' | 'fail' | 'auditing' | 'unaudit';

/** One entry of QueryChatappPhoneNumbers' `PhoneNumbers`; CAMS sends more fields than these. */
export interface PhoneNumberInfo {
  PhoneNumber: string;
  VerifiedName?: string;
  /** CONNECTED, FLAGGED, RATE_LIMITED, PENDING, OFFLINE, DELETED, … */
  Status?: string;
  /** Meta's quality rating of the number: GREEN, YELLOW, RED, UNKNOWN. */
  QualityRating?: string;
  /** TIER_50, TIER_250, TIER_1K, TIER_10K, TIER_100K, TIER_UNLIMITED (older replies: TIER_10 …). */
  MessagingLimitTier?: string;
  CodeVerificationStatus?: string;
  NameStatus?: string;
}

/** One entry of ListChatappTemplate's `ListTemplate`. */
export interface TemplateInfo {
  TemplateCode: string;
  TemplateName?: string;
  Language: string;
  AuditStatus?: string;
  Category?: string;
  TemplateType?: string;
  Reason?: string;
  LastUpdateTime?: number;
}

export interface HealthError {
  ErrorCode: string;
  ErrorDescription?: string;
  PossibleSolution?: string;
}

export interface HealthEntity {
  EntityType: string;
  WabaId?: string;
  BusinessId?: string;
  PhoneNumber?: string;
  TemplateCode?: string;
  Language?: string;
  /** A CanSendMessage, or a value CAMS added since (kept as data: the monitor reads it with knownStatus). */
  CanSendMessage: string;
  Errors?: HealthError[];
}

/** The `Data` of each operation's reply. */
export interface CamsData {
  ChatappBindWaba: { CustSpaceId: string; WabaId: string };
  QueryChatappBindWaba: {
    Id?: string;
    Name?: string;
    /** An AccountReviewStatus, or a value CAMS added since (passed on as given). */
    AccountReviewStatus?: string;
    Currency?: string;
    MessageTemplateNamespace?: string;
    BusinessId?: string;
    BusinessName?: string;
    PrimaryBusinessLocation?: string;
    AuthInternationalRateEligibility?: Record<string, unknown>;
  };
  AddChatappPhoneNumber: undefined;
  GetWhatsappHealthStatus: { CanSendMessage: string; Entities: HealthEntity[] };
  /** Read from the reply's top level (TOP_LEVEL_REPLY). */
  QueryChatappPhoneNumbers: { PhoneNumbers: PhoneNumberInfo[] };
  ListChatappTemplate: { ListTemplate: TemplateInfo[]; Total?: number };
}

/** The CAMS reply envelope (HTTP 200). */
export interface CamsEnvelope<D = unknown> {
  RequestId: string;
  Code: string;
  Message?: string;
  /** A string, or an object from newer gateways (see AccessDeniedDetail in errors.ts). */
  AccessDeniedDetail?: string | Readonly<Record<string, unknown>>;
  Success?: boolean;
  Data?: D;
}

/** What a successful call gives back: the operation's Data and the RequestId to quote in support cases. */
export interface CamsResult<A extends CamsAction> {
  data: CamsData[A];
  requestId: string;
  /** The reply body as CAMS sent it, for relaying it unchanged. */
  body: CamsEnvelope;
}
