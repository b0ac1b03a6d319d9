import { httpRequest } from '../../shared/http/request.ts';
import type { NodeHealth, NodeRef, Space } from './state.ts';

/** A receipt URL carries its receiver's secret as ?token=: never shown or logged. */
export function redactToken(text: string): string {
  return text.replace(/([?&]token=)[^&\s"']+/gi, '$1***');
}

/**
 * Where the sandbox pushes ChatAppAudit receipts, as CAMS does once UpdateAccountWebhook has set a
 * callback URL: a JSON array of receipts per change. `dropRate` loses that share of pushes on
 * purpose (benches: the sweep must still catch what a lost receipt did not say).
 */
export class ReceiptPusher {
  url: string | undefined;
  dropRate = 0;
  readonly stats = { pushed: 0, dropped: 0, failed: 0 };
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly log: (line: string) => void = () => {}, private random: () => number = Math.random) {}

  configure(url: string | undefined, dropRate = 0, seed?: number): void {
    this.url = url;
    this.dropRate = dropRate;
    if (seed !== undefined) this.random = seeded(seed);
    this.stats.pushed = this.stats.dropped = this.stats.failed = 0;
  }

  /** Pushes one array of receipts; resolves with the receiver's status (never rejects). */
  async push(receipts: readonly unknown[]): Promise<{ status?: number; dropped?: boolean; error?: string }> {
    const url = this.url;
    if (!url) return { error: 'no receipt URL is set (PUT /__sandbox/receipts {Url})' };
    if (this.dropRate > 0 && this.random() < this.dropRate) {
      this.stats.dropped++;
      return { dropped: true };
    }
    const p = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(receipts), timeoutMs: 10_000 }).then(
      (res) => {
        this.stats.pushed++;
        if (res.status >= 300) this.log(`receipts: push answered ${res.status}`);
        return { status: res.status };
      },
      (e: unknown) => {
        this.stats.failed++;
        const why = redactToken(e instanceof Error ? e.message : String(e));
        this.log(`receipts: push failed: ${why}`);
        return { error: why };
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  /** A health change, pushed in the background (the control call does not wait for the receiver). */
  notifyHealthChange(space: Space, node: NodeRef, before: NodeHealth, after: NodeHealth): void {
    if (!this.url || sameHealth(before, after)) return;
    void this.push([receiptFor(space, node, after)]);
  }

  get pending(): number {
    return this.inFlight.size;
  }
}

/**
 * The receipt a change makes. CAMS's Status tables for wabaAccountUpdate are not published, so the
 * sandbox sends the node's CanSendMessage there; a template's state becomes its AuditStatus
 * (LIMITED → paused, BLOCKED → disabled) with the first error's description as the Reason.
 */
function receiptFor(space: Space, node: NodeRef, h: NodeHealth): Record<string, string> {
  const reason = h.Errors?.[0]?.ErrorDescription;
  switch (node.type) {
    case 'template':
      return {
        Type: 'template',
        WabaId: space.wabaId,
        TemplateCode: node.templateCode,
        Language: node.language,
        AuditStatus: h.CanSendMessage === 'AVAILABLE' ? 'pass' : h.CanSendMessage === 'LIMITED' ? 'paused' : 'disabled',
        ...(reason ? { Reason: reason } : {}),
      };
    case 'phone':
      return { Type: 'wabaAccountUpdate', WabaId: space.wabaId, PhoneNumber: node.phoneNumber, Status: h.CanSendMessage, ...(reason ? { Reason: reason } : {}) };
    case 'waba':
      return { Type: 'wabaAccountUpdate', WabaId: space.wabaId, Status: h.CanSendMessage, ...(reason ? { Reason: reason } : {}) };
  }
}

function sameHealth(a: NodeHealth, b: NodeHealth): boolean {
  return a.CanSendMessage === b.CanSendMessage && JSON.stringify(a.Errors ?? []) === JSON.stringify(b.Errors ?? []);
}

/** A seeded xorshift PRNG: the same sequence every run (drop decisions here, the bench's moments). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}
