import { createHash } from 'node:crypto';
import type { AccountReviewStatus, CanSendMessage, HealthError } from '../../shared/cams/operations.ts';

/** A push owed a retry, saved with the sandbox's state so that a restart still makes it. */
export interface OwedPush {
  receipts: unknown[];
  /** Which retry is next: 1 to RETRY_DELAYS_MS.length (receipts.ts; up to 3 in a file an older schedule saved). */
  retry: number;
  dueAtMs: number;
}

/** A node whose messaging health can be queried and set. Phone numbers are digits with the country code. */
export type NodeRef =
  | { type: 'waba' }
  | { type: 'phone'; phoneNumber: string }
  | { type: 'template'; templateCode: string; language: string };

export interface NodeHealth {
  CanSendMessage: CanSendMessage;
  Errors?: HealthError[];
}

export interface PhoneRecord {
  cc: string;
  phoneNumber: string;
  verifiedName: string;
  /** Meta's view of the number, as QueryChatappPhoneNumbers reports it; absent means the defaults below. */
  qualityRating?: string;
  messagingLimitTier?: string;
  status?: string;
}

/** What a new number looks like on Meta's side: connected, good quality, the 1K starting tier. */
export const PHONE_DEFAULTS = { qualityRating: 'GREEN', messagingLimitTier: 'TIER_1K', status: 'CONNECTED' } as const;

/** A template's review state (ChatAppAudit's: pass, fail, auditing, unaudit, paused, disabled); absent means approved (`pass`). */
export interface TemplateMeta {
  auditStatus: string;
  category?: string;
  reason?: string;
}

export interface TemplateView {
  templateCode: string;
  language: string;
  meta: TemplateMeta;
}

/** One bound WABA: what ChatappBindWaba creates and the other operations address by CustSpaceId. */
export interface Space {
  custSpaceId: string;
  /** The AccessKey id that bound it: each key is its own account. */
  account: string;
  wabaId: string;
  businessId: string;
  name: string;
  businessName: string;
  reviewStatus: AccountReviewStatus;
  messageTemplateNamespace: string;
  boundAtMs: number;
  /** Full number (Cc + PhoneNumber) → record. */
  phones: Map<string, PhoneRecord>;
  /** nodeKey → health set through the control API; absent means AVAILABLE. */
  health: Map<string, NodeHealth>;
  /** Template keys (`code:language`) the space has; CAMS has no operation here to create them, the control API does. */
  templates: Set<string>;
  /** Template key → review state set through the control API. */
  templateMeta: Map<string, TemplateMeta>;
}

/** The WABA of an account as a direct customer: what QueryChatappBindWaba answers without CustSpaceId. */
export interface OwnWaba {
  wabaId: string;
  name: string;
  businessId: string;
  businessName: string;
  reviewStatus: AccountReviewStatus;
  messageTemplateNamespace: string;
}

export type BindResult = { ok: true; space: Space } | { ok: false; reason: 'owned-by-other-account' };
export type AddPhoneResult = { ok: true } | { ok: false; reason: 'phone-exists' };

const AVAILABLE: NodeHealth = { CanSendMessage: 'AVAILABLE' };

/**
 * The whole CAMS world of the sandbox, in memory. Spaces belong to one account; WABA ids and phone
 * numbers are unique across accounts, as on Meta's side.
 */
export class SandboxState {
  private readonly spaces = new Map<string, Space>();
  private readonly spaceByWaba = new Map<string, string>();
  /** Full number → CustSpaceId it was added to. */
  private readonly phoneOwners = new Map<string, string>();
  /** Own WABAs set through the control API; an account not here has its default one. */
  private readonly ownWabas = new Map<string, OwnWaba>();
  /** Where receipts go (PUT /__sandbox/receipts), kept as CAMS keeps an account's callback URL. */
  private receiptCallback: ReceiptCallback | undefined;
  /** Pushes the receiver refused, owed a retry (kept so that a restart still makes them). */
  private owedReceipts: OwedPush[] = [];

  /** `onChange` runs after every mutation (the server saves the state there when it has a data dir). */
  constructor(private readonly onChange: () => void = () => {}) {}

  /** Binding the same WABA again from the same account returns the same space (idempotent). */
  bindWaba(account: string, wabaId: string, nowMs: number): BindResult {
    const existing = this.spaceByWaba.get(wabaId);
    if (existing !== undefined) {
      const space = this.spaces.get(existing)!;
      return space.account === account ? { ok: true, space } : { ok: false, reason: 'owned-by-other-account' };
    }
    const custSpaceId = 'C' + digitsFrom(`space:${account}:${wabaId}`, 14);
    const space: Space = {
      custSpaceId,
      account,
      wabaId,
      businessId: digitsFrom(`business:${wabaId}`, 15),
      name: `Sandbox WABA ${wabaId}`,
      businessName: 'Sandbox Business',
      reviewStatus: 'APPROVED',
      messageTemplateNamespace: uuidFrom(`namespace:${wabaId}`),
      boundAtMs: nowMs,
      phones: new Map(),
      health: new Map(),
      templates: new Set(),
      templateMeta: new Map(),
    };
    this.spaces.set(custSpaceId, space);
    this.spaceByWaba.set(wabaId, custSpaceId);
    this.onChange();
    return { ok: true, space };
  }

  /** The space when it exists and belongs to the account; undefined for unknown and foreign alike. */
  spaceOf(account: string, custSpaceId: string): Space | undefined {
    const space = this.spaces.get(custSpaceId);
    return space && space.account === account ? space : undefined;
  }

  /** Any account's space (the control API is not an account). */
  findSpace(custSpaceId: string): Space | undefined {
    return this.spaces.get(custSpaceId);
  }

  addPhone(space: Space, phone: PhoneRecord): AddPhoneResult {
    const full = phone.cc + phone.phoneNumber;
    if (this.phoneOwners.has(full)) return { ok: false, reason: 'phone-exists' };
    this.phoneOwners.set(full, space.custSpaceId);
    space.phones.set(full, { ...phone });
    this.onChange();
    return { ok: true };
  }

  /**
   * The full number a caller means: the number itself, or a national number of a phone added to the
   * space (callers often pass PhoneNumber without Cc, as AddChatappPhoneNumber takes it).
   */
  resolvePhone(space: Space, digits: string): string {
    if (space.phones.has(digits)) return digits;
    const byNational = [...space.phones.entries()].filter(([, p]) => p.phoneNumber === digits);
    return byNational.length === 1 ? byNational[0]![0] : digits;
  }

  /** Whether the node exists in the space: its WABA always, a phone once added, a template once registered. */
  hasNode(space: Space, node: NodeRef): boolean {
    switch (node.type) {
      case 'waba':
        return true;
      case 'phone':
        return space.phones.has(node.phoneNumber);
      case 'template':
        return space.templates.has(nodeKey(node));
    }
  }

  /** Registers templates in the space (one save for the batch), with their review state when given. */
  addTemplates(space: Space, templates: ReadonlyArray<{ templateCode: string; language: string; meta?: TemplateMeta }>): void {
    for (const t of templates) {
      const key = nodeKey({ type: 'template', templateCode: t.templateCode, language: t.language });
      space.templates.add(key);
      if (t.meta) space.templateMeta.set(key, { ...t.meta });
    }
    this.onChange();
  }

  /** One template's review state (`pass` when none was set), or undefined when the space does not have it. */
  templateReview(space: Space, templateCode: string, language: string): string | undefined {
    const key = nodeKey({ type: 'template', templateCode, language });
    return space.templates.has(key) ? (space.templateMeta.get(key)?.auditStatus ?? 'pass') : undefined;
  }

  /** Removes a template (as deleting it in CAMS would); false when the space does not have it. */
  removeTemplate(space: Space, templateCode: string, language: string): boolean {
    const key = nodeKey({ type: 'template', templateCode, language });
    if (!space.templates.delete(key)) return false;
    space.templateMeta.delete(key);
    space.health.delete(key);
    this.onChange();
    return true;
  }

  /** The space's templates in a stable order (code, then language), with their review state. */
  templatesOf(space: Space): TemplateView[] {
    return [...space.templates]
      .sort()
      .map((key) => {
        const [, templateCode, language] = /^template:(.*):([^:]*)$/.exec(key)!;
        return { templateCode: templateCode!, language: language!, meta: { auditStatus: 'pass', ...space.templateMeta.get(key) } };
      });
  }

  /** Sets what Meta says about a number (quality rating, limit tier, status). */
  setPhoneInfo(space: Space, full: string, patch: Pick<PhoneRecord, 'qualityRating' | 'messagingLimitTier' | 'status'>): PhoneRecord | undefined {
    const phone = space.phones.get(full);
    if (!phone) return undefined;
    for (const k of ['qualityRating', 'messagingLimitTier', 'status'] as const) if (patch[k] !== undefined) phone[k] = patch[k];
    this.onChange();
    return { ...phone };
  }

  /** Removes a number from its space (as deregistering it would): it is free to be added again. */
  removePhone(space: Space, full: string): boolean {
    if (!space.phones.delete(full)) return false;
    this.phoneOwners.delete(full);
    space.health.delete(nodeKey({ type: 'phone', phoneNumber: full }));
    this.onChange();
    return true;
  }

  /** The account's own WABA: the one set through the control API, else a default derived from the key id. */
  ownWaba(account: string): OwnWaba {
    const set = this.ownWabas.get(account);
    if (set) return { ...set };
    const wabaId = digitsFrom(`own-waba:${account}`, 15);
    return {
      wabaId,
      name: `Sandbox own WABA ${wabaId}`,
      businessId: digitsFrom(`business:${wabaId}`, 15),
      businessName: 'Sandbox Business',
      reviewStatus: 'APPROVED',
      messageTemplateNamespace: uuidFrom(`namespace:${wabaId}`),
    };
  }

  setOwnWaba(account: string, patch: Partial<Omit<OwnWaba, 'messageTemplateNamespace' | 'businessId'>>): OwnWaba {
    const current = this.ownWaba(account);
    const wabaId = patch.wabaId ?? current.wabaId;
    const next: OwnWaba = {
      ...current,
      ...patch,
      // A new WABA id brings its own business and namespace, as the bind path derives them.
      ...(wabaId !== current.wabaId ? { businessId: digitsFrom(`business:${wabaId}`, 15), messageTemplateNamespace: uuidFrom(`namespace:${wabaId}`) } : {}),
    };
    this.ownWabas.set(account, next);
    this.onChange();
    return { ...next };
  }

  healthOf(space: Space, node: NodeRef): NodeHealth {
    const h = space.health.get(nodeKey(node)) ?? AVAILABLE;
    return { CanSendMessage: h.CanSendMessage, ...(h.Errors ? { Errors: h.Errors.map((e) => ({ ...e })) } : {}) };
  }

  setHealth(space: Space, node: NodeRef, health: NodeHealth): void {
    space.health.set(nodeKey(node), { CanSendMessage: health.CanSendMessage, ...(health.Errors ? { Errors: health.Errors } : {}) });
    // Setting a template's health is how a template comes to exist in the sandbox.
    if (node.type === 'template') space.templates.add(nodeKey(node));
    this.onChange();
  }

  setReviewStatus(space: Space, status: AccountReviewStatus): void {
    space.reviewStatus = status;
    this.onChange();
  }

  reset(): void {
    this.clear();
    this.onChange();
  }

  get receipts(): ReceiptCallback | undefined {
    return this.receiptCallback;
  }

  setReceipts(callback: ReceiptCallback | undefined): void {
    this.receiptCallback = callback;
    this.onChange();
  }

  get receiptRetries(): readonly OwedPush[] {
    return this.owedReceipts;
  }

  setReceiptRetries(owed: readonly OwedPush[]): void {
    this.owedReceipts = owed.map((o) => ({ ...o }));
    this.onChange();
  }

  /** Everything a restart must keep, as plain JSON (see ./persistence.ts). */
  snapshot(): StateSnapshot {
    return {
      version: 1,
      spaces: [...this.spaces.values()].map((s) => ({
        custSpaceId: s.custSpaceId,
        account: s.account,
        wabaId: s.wabaId,
        businessId: s.businessId,
        name: s.name,
        businessName: s.businessName,
        reviewStatus: s.reviewStatus,
        messageTemplateNamespace: s.messageTemplateNamespace,
        boundAtMs: s.boundAtMs,
        phones: [...s.phones.values()].map((p) => ({ ...p })),
        health: [...s.health.entries()].map(([key, h]) => ({ key, ...structuredClone(h) })),
        templates: [...s.templates],
        templateMeta: [...s.templateMeta.entries()].map(([key, m]) => ({ key, ...m })),
      })),
      ownWabas: [...this.ownWabas.entries()].map(([account, w]) => ({ account, ...w })),
      ...(this.receiptCallback ? { receipts: { ...this.receiptCallback } } : {}),
      ...(this.owedReceipts.length > 0 ? { receiptRetries: this.owedReceipts.map((o) => ({ ...o })) } : {}),
    };
  }

  /** Replaces the whole state with a snapshot (no onChange: nothing new to save). */
  restore(snap: StateSnapshot): void {
    this.clear();
    for (const s of snap.spaces) {
      const { phones, health, templates, templateMeta, ...rest } = s;
      const space: Space = {
        ...rest,
        phones: new Map(phones.map((p) => [p.cc + p.phoneNumber, { ...p }])),
        health: new Map(health.map(({ key, ...h }) => [key, h])),
        templates: new Set(templates),
        templateMeta: new Map((templateMeta ?? []).map(({ key, ...m }) => [key, m])),
      };
      this.spaces.set(space.custSpaceId, space);
      this.spaceByWaba.set(space.wabaId, space.custSpaceId);
      for (const full of space.phones.keys()) this.phoneOwners.set(full, space.custSpaceId);
    }
    for (const { account, ...w } of snap.ownWabas) this.ownWabas.set(account, w);
    this.receiptCallback = snap.receipts ? { ...snap.receipts } : undefined;
    this.owedReceipts = (snap.receiptRetries ?? []).map((o) => ({ ...o }));
  }

  private clear(): void {
    this.spaces.clear();
    this.spaceByWaba.clear();
    this.phoneOwners.clear();
    this.ownWabas.clear();
    this.receiptCallback = undefined;
    this.owedReceipts = [];
  }
}

/**
 * The ChatAppAudit message body an account is set to (CAMS's ChatAppAudit pages list both): V2 has
 * every receipt type, with its `Type`; V1 is template reviews only, with no `Type`.
 */
export type ReceiptFormat = 'V1' | 'V2';

/** The receipt callback: its URL (with the receiver's token) and the share of pushes lost on purpose. */
export interface ReceiptCallback {
  url: string;
  dropRate: number;
  /** The ChatAppAudit form pushed (absent: V2). */
  format?: ReceiptFormat;
}

/** The saved form of SandboxState (`<dataDir>/sandbox.json`). */
export interface StateSnapshot {
  version: 1;
  spaces: Array<
    Omit<Space, 'phones' | 'health' | 'templates' | 'templateMeta'> & {
      phones: PhoneRecord[];
      health: Array<{ key: string } & NodeHealth>;
      templates: string[];
      /** Absent in files saved before review states existed. */
      templateMeta?: Array<{ key: string } & TemplateMeta>;
    }
  >;
  ownWabas: Array<{ account: string } & OwnWaba>;
  /** Absent when none is set, and in files saved before it was kept. */
  receipts?: ReceiptCallback;
  /** Pushes owed a retry; absent when none is, and in files saved before retries existed. */
  receiptRetries?: OwedPush[];
}

function nodeKey(node: NodeRef): string {
  switch (node.type) {
    case 'waba':
      return 'waba';
    case 'phone':
      return `phone:${node.phoneNumber}`;
    case 'template':
      return `template:${node.templateCode}:${node.language}`;
  }
}

/** Stable ids derived from their inputs: a sandbox restarted with the same calls hands out the same ids. */
function digitsFrom(seed: string, length: number): string {
  const n = BigInt('0x' + createHash('sha256').update(seed).digest('hex'));
  return (n % 10n ** BigInt(length)).toString().padStart(length, '0');
}

function uuidFrom(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
