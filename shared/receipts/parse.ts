import type { FieldProblem } from '../http-fn/errors.ts';
import { isAccountReviewStatus } from '../monitor/waba-review.ts';
import { repeatedJsonKeys } from '../text/json-keys.ts';

/** ChatAppAudit receipt types (../shared/notes/receipts.md); others are kept as data, never fatal. */
export const RECEIPT_TYPES = [
  'template',
  'phoneNameUpdate',
  'phoneQualityUpdate',
  'wabaReviewUpdate',
  'wabaAccountUpdate',
  'templateCategoryUpdate',
  'templateQualityUpdate',
] as const;

/** The types about a template: each needs TemplateCode and Language. */
export const TEMPLATE_TYPES: ReadonlySet<string> = new Set(['template', 'templateCategoryUpdate', 'templateQualityUpdate']);
/** The types about a number: each needs PhoneNumber (wabaAccountUpdate may carry one too). */
export const PHONE_TYPES: ReadonlySet<string> = new Set(['phoneNameUpdate', 'phoneQualityUpdate']);

const QUALITY_STATUSES = ['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const;
const AUDIT_STATUSES = ['pass', 'fail', 'auditing', 'unaudit', 'disabled', 'paused'] as const;

/** One receipt, checked: the fields CAMS documents, with `known` false for a Type or Status we do not know. */
export interface Receipt {
  type: string;
  wabaId: string;
  phoneNumber?: string;
  templateCode?: string;
  language?: string;
  auditStatus?: string;
  status?: string;
  reason?: string;
  /** False when Type, or the Status/AuditStatus it carries, is not one the notes list. */
  known: boolean;
  /** The receipt as CAMS sent it (stored and shown as is). */
  raw: Record<string, unknown>;
  /**
   * What the receipt says, in ChatAppAudit's V2 form (a V1 receipt with its `Type: template`): the
   * dedup key is taken from it, so the same review in either form is one receipt.
   */
  content: Record<string, unknown>;
}

export type ParsedReceipt = { ok: true; receipt: Receipt } | { ok: false; fields: FieldProblem[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

/**
 * The fields of a ChatAppAudit V1 receipt besides WabaId, all required (Reason aside), as its pages
 * list them (help.aliyun.com/zh/chatapp/developer-reference/chatappaudit-1, HTTP; .../chatappaudit,
 * queue): a template review, with no Type.
 */
const V1_FIELDS: readonly string[] = ['TemplateCode', 'Language', 'AuditStatus'];

/**
 * How deep a receipt may nest. CAMS's receipts are flat; the receipt is kept as sent (stored as JSON,
 * hashed for dedup by a recursive walk), and a value nested thousands deep would overflow the stack
 * there: a 500 that CAMS retries forever, taking the valid receipts of its batch with it.
 */
export const MAX_RECEIPT_DEPTH = 32;

/** Whether `root` nests deeper than `max` (arrays and objects), walked without recursion. */
function nestsDeeperThan(root: unknown, max: number): boolean {
  const stack: Array<{ value: unknown; depth: number }> = [{ value: root, depth: 1 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth > max) return true;
    for (const v of Object.values(item.value)) if (typeof v === 'object' && v !== null) stack.push({ value: v, depth: item.depth + 1 });
  }
  return false;
}

/** Checks one receipt; every problem names its field (prefixed by `prefix`, e.g. `[2].WabaId`). */
export function parseReceipt(input: unknown, prefix = ''): ParsedReceipt {
  const at = (f: string) => `${prefix}${prefix ? '.' : ''}${f}`;
  if (!isObject(input)) return { ok: false, fields: [{ Field: prefix || '(receipt)', Message: 'must be a JSON object (a ChatAppAudit receipt)' }] };
  if (nestsDeeperThan(input, MAX_RECEIPT_DEPTH)) return { ok: false, fields: [{ Field: prefix || '(receipt)', Message: `must not nest more than ${MAX_RECEIPT_DEPTH} levels deep` }] };
  const fields: FieldProblem[] = [];
  const str = (name: string, required: boolean, re?: RegExp, what?: string): string | undefined => {
    const v = input[name];
    if (absent(v)) {
      if (required) fields.push({ Field: at(name), Message: (V1_FIELDS.includes(name) && missing) || 'is required' });
      return undefined;
    }
    // CAMS sends ids as strings; a JSON number is accepted while it is an exact integer.
    const s = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
    if (typeof s !== 'string') {
      fields.push({ Field: at(name), Message: 'must be a string' });
      return undefined;
    }
    if (re && !re.test(s)) {
      // The body is read leniently (a byte that is not UTF-8 becomes U+FFFD) so one bad receipt does
      // not lose the push's others; no id can hold one, and the refusal says what happened.
      const garbled = s.includes('\uFFFD') ? ': it holds a byte that is not UTF-8 (read as U+FFFD)' : '';
      fields.push({ Field: at(name), Message: `must be ${what}${garbled}` });
      return undefined;
    }
    return s;
  };
  // ChatAppAudit's V1 form (its HTTP-callback page's sample) has no Type: it carries template reviews
  // only, with the fields of V2's `template` type. A receipt without Type is read as one when it holds
  // any of them; one holding none of them names Type, which every V2 receipt needs.
  const v1 = absent(input['Type']) && V1_FIELDS.some((f) => !absent(input[f]));
  const missing = v1 ? 'is required (a receipt without Type is read as a V1 template receipt)' : undefined;
  const type = v1 ? 'template' : str('Type', true, /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a receipt type such as template or phoneQualityUpdate');
  const wabaId = str('WabaId', true, /^\d{1,32}$/, 'the WABA id: 1-32 digits');
  const needsPhone = type !== undefined && PHONE_TYPES.has(type);
  const needsTemplate = type !== undefined && TEMPLATE_TYPES.has(type);
  const phone = str('PhoneNumber', needsPhone, /^\+?[1-9]\d{1,14}$/, 'the phone number with its country code (E.164 digits, "+" optional)');
  const templateCode = str('TemplateCode', needsTemplate, /^[A-Za-z0-9_-]{1,128}$/, '1-128 letters, digits, _ or -');
  const language = str('Language', needsTemplate, /^[A-Za-z]{2,3}([_-][A-Za-z]{2})?$/, 'a template language code such as en or en_US');
  const auditStatus = str('AuditStatus', type === 'template', /^[A-Za-z_]{1,32}$/, 'a word such as pass, paused or disabled');
  const status = str('Status', type === 'phoneQualityUpdate', /^[A-Za-z0-9_ -]{1,64}$/, 'a status word such as GREEN or YELLOW');
  // Optional data (notes: unknown values are data, never a crash): a Reason that is not a string (an
  // object, a number) is kept as its JSON text; rejecting it threw the whole receipt away.
  const rawReason = input['Reason'];
  const reason = rawReason === undefined || rawReason === null || rawReason === '' ? undefined : typeof rawReason === 'string' ? rawReason : JSON.stringify(rawReason);
  if (fields.length > 0) return { ok: false, fields };

  const receipt: Receipt = { type: type!, wabaId: wabaId!, known: isKnown(type!, status, auditStatus), raw: input, content: v1 ? { ...input, Type: 'template' } : input };
  if (phone) receipt.phoneNumber = phone.replace(/^\+/, '');
  if (templateCode) receipt.templateCode = templateCode;
  if (language) receipt.language = templateLanguage(language);
  if (auditStatus) receipt.auditStatus = auditStatus;
  if (status) receipt.status = status;
  if (reason) receipt.reason = reason.slice(0, 1000);
  return { ok: true, receipt };
}

/**
 * The language as watch targets and CAMS spell it (`en_US`): a receipt's `en-us` or `EN_us` names the
 * same template, and kept as sent it named a node no target can be (the receipt was dropped unalerted).
 */
function templateLanguage(language: string): string {
  const [lang, region] = language.split(/[_-]/);
  return region === undefined ? lang!.toLowerCase() : `${lang!.toLowerCase()}_${region.toUpperCase()}`;
}

/**
 * A `wabaReviewUpdate` receipt's review status. The notes list the V2 fields (`Status`, `AuditStatus`)
 * but not which one this type fills, so the one holding a review word (QueryChatappBindWaba's list,
 * any casing) is taken: a `Status` that is some other word must not hide an `AuditStatus` that is one.
 * When both are review words and differ, `Status` wins (what the sandbox sends, the AccountReviewStatus);
 * when neither is, `Status` else `AuditStatus` is kept as data.
 */
export function reviewStatusOf(r: Pick<Receipt, 'status' | 'auditStatus'>): string | undefined {
  if (r.status !== undefined && isAccountReviewStatus(r.status)) return r.status;
  if (r.auditStatus !== undefined && isAccountReviewStatus(r.auditStatus)) return r.auditStatus;
  return r.status ?? r.auditStatus;
}

function isKnown(type: string, status: string | undefined, audit: string | undefined): boolean {
  if (!(RECEIPT_TYPES as readonly string[]).includes(type)) return false;
  if (type === 'phoneQualityUpdate') return (QUALITY_STATUSES as readonly string[]).includes(status!.toUpperCase());
  if (type === 'template') return (AUDIT_STATUSES as readonly string[]).includes(audit!.toLowerCase());
  // A review status QueryChatappBindWaba does not list is data (kept, logged); none at all leaves
  // the receipt what it was before it was judged: its WABA's check.
  if (type === 'wabaReviewUpdate') {
    const review = reviewStatusOf({ status, auditStatus: audit });
    return review === undefined || isAccountReviewStatus(review);
  }
  // The Status tables of the other types are not published (notes): any value is data.
  return true;
}

/**
 * A batch (an HTTP push or a queue message): a JSON array of receipts, or one receipt. With `text`,
 * the JSON text `body` was parsed from, a receipt that holds a key twice is malformed, named by the
 * key's path (`[2].Status`): JSON.parse kept the last silently, and which status CAMS meant would be
 * a guess. The others are taken as ever.
 */
export function parseBatch(body: unknown, text?: string): { receipts: Array<{ index: number; receipt: Receipt }>; errors: Array<{ index: number; fields: FieldProblem[] }> } {
  const list = Array.isArray(body) ? body : [body];
  const repeated = text === undefined ? new Map<number, string>() : repeatedKeysByReceipt(text, Array.isArray(body));
  const receipts: Array<{ index: number; receipt: Receipt }> = [];
  const errors: Array<{ index: number; fields: FieldProblem[] }> = [];
  list.forEach((item, index) => {
    const r = parseReceipt(item, `[${index}]`);
    const again = repeated.get(index);
    if (again !== undefined) errors.push({ index, fields: [{ Field: again, Message: 'is given more than once' }, ...(r.ok ? [] : r.fields)] });
    else if (r.ok) receipts.push({ index, receipt: r.receipt });
    else errors.push({ index, fields: r.fields });
  });
  return { receipts, errors };
}

/** The first key each receipt of a batch's JSON text holds twice, by the receipt's index, as its field (`[2].Status`). */
function repeatedKeysByReceipt(text: string, isArray: boolean): Map<number, string> {
  const out = new Map<number, string>();
  for (const repeat of repeatedJsonKeys(text)) {
    const index = isArray ? Number(repeat.first) : 0;
    if (out.has(index)) continue;
    const path = isArray ? repeat.path().slice(1) : repeat.path();
    out.set(index, [`[${index}]`, ...path].join('.'));
  }
  return out;
}
