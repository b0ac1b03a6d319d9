/** What one message to a sink says: the order it lists owed entries in, its id, severity and title. */
import { createHash } from 'node:crypto';
import type { AlertItem, AlertNotification, Severity } from '../alerts/model.ts';
import type { OutboxEntry } from './entity-state.ts';

const RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * The order a message lists what is owed: by when it was decided, then by entity, then by its
 * sequence as a number (ids are `<fingerprint>.<seq>`: as strings, `.10` would sort before `.9`, and
 * a resolution and the NEW after it, decided in one step, would go out in the wrong order).
 */
export function sendOrder(a: OutboxEntry, b: OutboxEntry): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  const [fa, sa] = splitId(a.id);
  const [fb, sb] = splitId(b.id);
  return fa !== fb ? (fa < fb ? -1 : 1) : sa - sb;
}

function splitId(id: string): [string, number] {
  const dot = id.lastIndexOf('.');
  return [id.slice(0, dot), Number(id.slice(dot + 1))];
}

/**
 * The message a sink gets for a group's owed entries (`entries` in sendOrder): its title counts the
 * alerts as they stand; its id is the same for the same entries, whenever it is composed.
 */
export function notificationFor(sink: string, group: string, entries: OutboxEntry[], now: number): AlertNotification {
  const items: AlertItem[] = entries.map((e) => e.item);
  // The title counts alerts as they stand now, each by its latest item: a node owed two of them (a
  // sink that was down; NEW then CHANGED, or NEW then RESOLVED) is one alert, not "2 firing".
  const current = [...new Map(items.map((i) => [i.fingerprint, i])).values()];
  const severity = current.reduce<Severity>((worst, i) => (RANK[i.severity] > RANK[worst] ? i.severity : worst), 'info');
  const resolved = current.filter((i) => i.reason === 'resolved').length;
  const unwatched = current.filter((i) => i.reason === 'unwatched').length;
  const firing = current.length - resolved - unwatched;
  const label = group === 'monitor' ? 'the health monitor' : group.replace(/^waba:/, 'WABA ').replace(/^space:/, 'space ');
  const parts = [firing ? `${firing} firing` : '', resolved ? `${resolved} resolved` : '', unwatched ? `${unwatched} no longer watched` : ''].filter(Boolean).join(', ');
  return {
    // The same owed entries always make the same id, so a receiver can drop a retry it already has.
    // With when each was decided: a node watched again starts afresh (`<fingerprint>.1` again), and by
    // its ids alone its first alert's message had the id of its first alert's, which such a receiver dropped.
    id: createHash('sha256').update(`${sink}\n${entries.map((e) => `${e.id}@${e.createdAt}`).sort().join('\n')}`).digest('hex').slice(0, 32),
    group,
    severity,
    title: `[${severity.toUpperCase()}] WhatsApp health, ${label}: ${parts}`,
    items,
    createdAt: new Date(now).toISOString(),
  };
}
