import { describe, expect, it } from 'vitest';
import { statusFixture } from '../../../bench/lib/status-fixture.ts';
import { renderStatusPage } from '../../../shared/status-page/render.ts';
import { barRuns, buildStatusView, HEALTHY_LISTED_MAX, INCIDENTS_LISTED_MAX, lastDays, PAGE_LISTED_MAX } from '../../../shared/status-page/view.ts';
import { describeNode, fingerprintOf } from '../../../shared/monitor/entity-state.ts';
import type { Silence } from '../../../shared/silences/silence.ts';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');

describe('status page view and HTML', () => {
  it('a large WABA lists what needs a look and counts its quiet nodes; ?waba= lists them all', () => {
    const f = statusFixture(20, NOW); // one WABA: the WABA, 15 phones, 4 templates; node 7 LIMITED, node 3 had a bad day
    expect(15 + 4).toBeGreaterThan(HEALTHY_LISTED_MAX);
    const v = buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [] });
    const g = v.groups[0]!;
    expect(g.worst).toBe('LIMITED');
    expect(g.nodes.map((n) => `${n.label} ${n.status}`)).toEqual(['phone 8613800000007 LIMITED', 'phone 8613800000003 AVAILABLE']);
    expect(g.healthyNotListed).toBe(18);
    expect(v.incidents.map((i) => i.status)).toEqual(['LIMITED']);
    const all = buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [], only: g.id });
    expect(all.groups[0]!.nodes).toHaveLength(20);
    expect(all.groups[0]!.healthyNotListed).toBe(0);
    const html = renderStatusPage(v);
    expect(html).toContain('18 nodes AVAILABLE with no bad day in 90 days');
    expect(html).toContain(`href="?waba=${g.id}"`);
    expect(html).not.toContain('id="only-waba"');
    // The counts and incidents stay every WABA's: the page says the list below is of one.
    expect(renderStatusPage(all)).toContain(`<p class="muted" id="only-waba">Listing WABA ${g.id} only; the counts and incidents above cover every watched node. <a href="?">All WABAs</a></p>`);
  });

  it('?waba= of a WABA the page does not have says so and links back, rather than "no node has been checked yet"', () => {
    const f = statusFixture(3, NOW);
    const html = renderStatusPage(buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [], only: '999' }));
    expect(html).toContain('No watched node is under WABA 999.');
    expect(html).toContain('<a href="?">back to all WABAs</a>');
    expect(html).not.toContain('No node has been checked yet');
    const empty = renderStatusPage(buildStatusView({ now: NOW, entities: [], histories: new Map(), silences: [] }));
    expect(empty).toContain('No node has been checked yet.');
  });

  it('an unwatched node (no watched target reaches it; its close-out may still be owed) is not listed, counted or an incident', () => {
    const f = statusFixture(3, NOW);
    const [waba, gone, kept] = f.entities;
    Object.assign(gone!, { status: 'BLOCKED', firing: false, unwatchedAt: NOW - 1000, silenced: { silenceId: 'sil-1', at: NOW, item: {} } });
    Object.assign(kept!, { status: 'LIMITED', firing: true });
    const v = buildStatusView({ now: NOW, entities: [waba!, gone!, kept!], histories: f.histories, silences: [] });
    expect(v.groups[0]!.nodes.map((n) => n.label)).toEqual([expect.stringMatching(/^WABA/), `phone ${kept!.subject.phoneNumber}`]);
    expect(v.counts).toEqual({ AVAILABLE: 1, LIMITED: 1, BLOCKED: 0, ERROR: 0 });
    expect(v.incidents).toHaveLength(1);
    expect(renderStatusPage(v)).not.toContain(gone!.subject.phoneNumber!);
  });

  // On a phone the tables' heads are hidden: a silence's row read "me", "known", "0" with nothing
  // saying which was the author, the comment or the count held back, and an incident's two times the same.
  it('on a phone, every cell of the incidents and silences tables but the state and the node says what it is', () => {
    const f = statusFixture(2, NOW);
    Object.assign(f.entities[1]!, { status: 'LIMITED', firing: true, since: NOW - 60_000 });
    const silence: Silence = { SilenceId: 'sil-1', Matchers: [{ Name: 'WabaId', Value: '1' }], StartsAt: NOW - 1000, EndsAt: NOW + 3_600_000, CreatedBy: 'me', Comment: 'known', CreatedAt: NOW - 1000 };
    const html = renderStatusPage(buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [silence] }));
    const cells = (id: string) => {
      const table = html.slice(html.indexOf(`<section id="${id}">`)).split('</table>')[0]!;
      const heads = [...table.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]);
      const labels = [...table.slice(table.indexOf('<tbody>')).matchAll(/<td(?: data-label="([^"]*)")?>/g)].map((m) => m[1] ?? '-');
      return heads.map((h, i) => `${h}=${labels[i]}`);
    };
    expect(cells('incidents')).toEqual(['State=-', 'Node=-', 'Since=Since', 'For=For']);
    expect(cells('silences')).toEqual(['State=-', 'Matchers=Matchers', 'Window=Window', 'By=By', 'Comment=Comment', 'Held back=Held back']);
    expect(html).toMatch(/@media \(max-width:40rem\)\{[^\n]*thead\{display:none\}td\[data-label\]::before\{content:attr\(data-label\)/);
  });

  it('bars: 90 days, equal neighbours merged, days without a check marked', () => {
    const days = lastDays(NOW);
    expect(days).toHaveLength(90);
    expect(days.at(-1)).toBe('2026-03-01');
    const runs = barRuns({ days: [{ day: '2026-02-27', worst: 'AVAILABLE' }, { day: '2026-02-28', worst: 'BLOCKED' }, { day: '2026-03-01', worst: 'AVAILABLE' }] }, days);
    expect(runs.map((r) => [r.state ?? '-', r.days])).toEqual([['-', 87], ['AVAILABLE', 1], ['BLOCKED', 1], ['AVAILABLE', 1]]);
    // Every time on the page says UTC; the bars' days are UTC days too, and a viewer at UTC+8 must not read them as local.
    const html = renderStatusPage(buildStatusView({ now: NOW, entities: statusFixture(1, NOW).entities, histories: new Map(), silences: [] }));
    expect(html).toContain('Each bar is the last 90 UTC days, one cell per day, coloured by the worst state that day:');
  });

  it('escapes everything that comes from CAMS or callers', () => {
    const f = statusFixture(1, NOW);
    const e = f.entities[0]!;
    e.status = 'BLOCKED';
    e.firing = true;
    e.errors = [{ ErrorCode: '<b>x', ErrorDescription: '<script>alert(1)</script>', PossibleSolution: '" onmouseover="x' }];
    const html = renderStatusPage(
      buildStatusView({
        now: NOW,
        entities: [e],
        histories: f.histories,
        silences: [{ SilenceId: 'sil-1', Matchers: [{ Name: 'WabaId', Value: '<i>' }], StartsAt: NOW - 1, EndsAt: NOW + 1000, CreatedBy: '<img src=x>', Comment: '&', CreatedAt: NOW }],
      }),
    );
    expect(html).not.toMatch(/<script|<img|<i>|<b>x/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('WabaId=&lt;i&gt;');
  });

  it('a group: oldest check, children held back by a BLOCKED WABA, silences active now and what each holds back; incidents worst first', () => {
    const f = statusFixture(20, NOW);
    const [waba, phone1, phone2, phone3] = f.entities;
    waba!.status = 'BLOCKED';
    waba!.firing = true;
    waba!.badSince = NOW - 5_000;
    phone1!.status = 'LIMITED';
    phone1!.firing = true;
    phone1!.badSince = NOW - 9_000;
    phone1!.lastCheckedAt = NOW - 7_200_000;
    phone2!.status = 'LIMITED';
    phone2!.held = NOW - 2_000; // its alert held back by the BLOCKED WABA, as the rules mark it
    phone3!.silenced = { silenceId: 'sil-recorded', at: NOW - 1, item: {} as never };
    const silence = (id: string, phone: string, startsAt: number) => ({ SilenceId: id, Matchers: [{ Name: 'PhoneNumber' as const, Value: phone }], StartsAt: startsAt, EndsAt: NOW + 60_000, CreatedBy: 'ops', Comment: '', CreatedAt: NOW - 10 });
    const v = buildStatusView({
      now: NOW,
      entities: f.entities,
      histories: f.histories,
      silences: [silence('sil-active', phone2!.subject.phoneNumber!, NOW - 1), silence('sil-later', phone1!.subject.phoneNumber!, NOW + 1_000), silence('sil-recorded', '-', NOW - 1)],
    });
    const g = v.groups[0]!;
    expect(g.worst).toBe('BLOCKED');
    // the fixture's node 7 is LIMITED (and firing) already, since 3 hours
    expect(g.counts).toEqual({ AVAILABLE: 16, LIMITED: 3, BLOCKED: 1, ERROR: 0 });
    expect(g.oldestCheck).toBe(NOW - 7_200_000);
    const node = (label: string) => g.nodes.find((n) => n.label === label)!;
    expect(node(`WABA ${waba!.subject.wabaId}`).inhibited).toBe(false);
    expect(node(`phone ${phone1!.subject.phoneNumber}`)).toMatchObject({ inhibited: true, firing: true });
    expect(node(`phone ${phone1!.subject.phoneNumber}`).silencedBy).toBeUndefined();
    expect(node(`phone ${phone2!.subject.phoneNumber}`)).toMatchObject({ inhibited: true, silencedBy: 'sil-active' });
    expect(node(`phone ${phone3!.subject.phoneNumber}`)).toMatchObject({ inhibited: false, silencedBy: 'sil-recorded' });
    expect(v.silences.map((s) => [s.id, s.state, s.suppressed])).toEqual([['sil-active', 'active', 0], ['sil-later', 'pending', 0], ['sil-recorded', 'active', 1]]);
    expect(v.incidents.map((i) => [i.status, i.since, i.durationMs])).toEqual([['BLOCKED', NOW - 5_000, 5_000], ['LIMITED', NOW - 10_800_000, 10_800_000], ['LIMITED', NOW - 9_000, 9_000]]);
  });

  it('a node is silenced only when the silence holds an alert of it back: a quiet node a WabaId silence covers is not', () => {
    const f = statusFixture(5, NOW); // the WABA, 3 phones, a template: all AVAILABLE
    const [, phone1, phone2] = f.entities;
    Object.assign(phone1!, { status: 'LIMITED', firing: true, badSince: NOW - 60_000 });
    // LIMITED, below the rule's threshold: no alert yet, nothing for a silence to hold back
    Object.assign(phone2!, { status: 'LIMITED', firing: false, consecutiveBad: 1 });
    const wabaId = phone1!.subject.wabaId!;
    const silence: Silence = { SilenceId: 'sil-waba', Matchers: [{ Name: 'WabaId', Value: wabaId }], StartsAt: NOW - 1000, EndsAt: NOW + 3_600_000, CreatedBy: 'ops', Comment: '', CreatedAt: NOW - 1000 };
    const v = buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [silence] });
    const tagged = v.groups[0]!.nodes.filter((n) => n.silencedBy).map((n) => n.label);
    expect(tagged).toEqual([`phone ${phone1!.subject.phoneNumber}`]);
    expect(v.groups[0]!.nodes.length).toBe(5);
    expect(v.incidents.map((i) => i.silencedBy)).toEqual(['sil-waba']);
    const html = renderStatusPage(v);
    // the firing phone's row and its incident; no AVAILABLE row says silenced
    expect(html.match(/silenced \(sil-waba\)/g)).toHaveLength(2);
  });

  it('a silence that has ended holds nothing back: its record on a node (owed again at the next flush, or held by a BLOCKED WABA) is not shown as silenced or counted, as GET /silences says', () => {
    const f = statusFixture(3, NOW);
    const phone = f.entities[1]!;
    Object.assign(phone, { status: 'LIMITED', firing: true, badSince: NOW - 7_200_000, silenced: { silenceId: 'sil-ended', at: NOW - 3_600_000, item: {} } });
    const ended = { SilenceId: 'sil-ended', Matchers: [{ Name: 'PhoneNumber' as const, Value: phone.subject.phoneNumber! }], StartsAt: NOW - 7_200_000, EndsAt: NOW - 60_000, ExpiredAt: NOW - 60_000, CreatedBy: 'ops', Comment: '', CreatedAt: NOW - 7_200_000 };
    const v = buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [ended] });
    expect(v.silences.map((s) => [s.id, s.state, s.suppressed])).toEqual([['sil-ended', 'expired', 0]]);
    expect(v.groups[0]!.nodes.find((n) => n.label === `phone ${phone.subject.phoneNumber}`)!.silencedBy).toBeUndefined();
    expect(v.incidents.map((i) => [i.node, i.silencedBy])).toEqual([[phone.node, undefined]]);
    expect(renderStatusPage(v)).not.toContain('silenced (sil-ended)');
    // the same record while the silence is active: silenced, and counted
    const active = buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [{ ...ended, EndsAt: NOW + 60_000 }] });
    expect(active.silences.map((s) => [s.state, s.suppressed])).toEqual([['active', 1]]);
    expect(active.incidents[0]!.silencedBy).toBe('sil-ended');
  });

  it('rows of early warnings and other entities name their phone or template; an incident shows the silence its row shows', () => {
    const f = statusFixture(20, NOW);
    const phone = f.entities.find((e) => e.subject.entityType === 'PHONE_NUMBER')!;
    const template = f.entities.find((e) => e.subject.entityType === 'MESSAGE_TEMPLATE')!;
    const derived = (from: typeof phone, entityType: string, status: 'BLOCKED' | 'LIMITED' | 'AVAILABLE') => {
      const subject = { ...from.subject, entityType };
      return { ...from, subject, fingerprint: fingerprintOf(subject), node: describeNode(subject), status, firing: status !== 'AVAILABLE' };
    };
    const quality = derived(phone, 'PHONE_QUALITY', 'LIMITED');
    const templateStatus = derived(template, 'TEMPLATE_STATUS', 'LIMITED');
    const business = derived(f.entities[0]!, 'BUSINESS', 'AVAILABLE');
    const review = derived(f.entities[0]!, 'WABA_REVIEW', 'BLOCKED');
    const v = buildStatusView({
      now: NOW,
      entities: [...f.entities, quality, templateStatus, business, review],
      histories: f.histories,
      silences: [{ SilenceId: 'sil-q', Matchers: [{ Name: 'AlertName', Value: 'PHONE_QUALITY' }], StartsAt: NOW - 1, EndsAt: NOW + 60_000, CreatedBy: 'ops', Comment: '', CreatedAt: NOW - 10 }],
    });
    const labels = v.groups[0]!.nodes.map((n) => n.label);
    expect(labels).toContain(`phone ${phone.subject.phoneNumber} quality`);
    expect(labels).toContain(`template ${template.subject.templateCode} (en_US) status`);
    expect(labels).toContain(`WABA ${phone.subject.wabaId} review`);
    expect(v.groups[0]!.nodes.find((n) => n.label.endsWith(' quality'))!.silencedBy).toBe('sil-q');
    const incident = v.incidents.find((i) => i.node === quality.node)!;
    expect(incident.node).toBe(`PHONE_QUALITY phone ${phone.subject.phoneNumber} · WABA ${phone.subject.wabaId} · space ${phone.subject.custSpaceId}`);
    expect(incident.silencedBy).toBe('sil-q');
    expect(v.incidents.find((i) => i.node === templateStatus.node)!.silencedBy).toBeUndefined();
    // a WABA, phone or template is named once, by its own label
    expect(describeNode(f.entities[0]!.subject)).toBe(`WABA ${phone.subject.wabaId} · space ${phone.subject.custSpaceId}`);
    expect(describeNode(phone.subject)).toBe(`phone ${phone.subject.phoneNumber} · WABA ${phone.subject.wabaId} · space ${phone.subject.custSpaceId}`);
    expect(describeNode(business.subject)).toBe(`BUSINESS WABA ${phone.subject.wabaId} · space ${phone.subject.custSpaceId}`);
  });

  it("a number's quality row reads \"phone X quality: YELLOW\", with no \"quality YELLOW\" tag repeating it", () => {
    const f = statusFixture(3, NOW);
    const phone = f.entities.find((e) => e.subject.entityType === 'PHONE_NUMBER')!;
    const subject = { ...phone.subject, entityType: 'PHONE_QUALITY' };
    const rated = { ...phone, subject, fingerprint: fingerprintOf(subject), node: describeNode(subject), status: 'LIMITED' as const, firing: true, quality: 'YELLOW' };
    const unrated = { ...rated, quality: undefined, subject: { ...subject, phoneNumber: '8613899999999' } };
    const v = buildStatusView({ now: NOW, entities: [...f.entities, rated, unrated], histories: f.histories, silences: [] });
    const labels = v.groups[0]!.nodes.map((n) => n.label);
    expect(labels).toContain(`phone ${phone.subject.phoneNumber} quality: YELLOW`);
    // Before the first rating is known, the row names the node alone.
    expect(labels).toContain('phone 8613899999999 quality');
    const html = renderStatusPage(v);
    expect(html).toContain(`<span class="name">phone ${phone.subject.phoneNumber} quality: YELLOW</span><small>`);
    expect(html).not.toMatch(/quality YELLOW/);
  });

  it('hundreds of small WABAs (10,000 nodes, 12 phones each) make a page of at most 500 KB too: past PAGE_LISTED_MAX nodes every WABA counts its quiet ones', () => {
    const f = statusFixture(10_000, NOW);
    // The same nodes in WABAs of the WABA and 12 phones: each small enough to be listed in full on its own.
    const entities = f.entities.map((e, i) => {
      const wabaId = String(209000000000000 + Math.floor(i / 13));
      const subject = i % 13 === 0 ? { nodeType: 'waba' as const, custSpaceId: e.subject.custSpaceId, wabaId, entityType: 'WABA' } : { nodeType: 'phone' as const, custSpaceId: e.subject.custSpaceId, wabaId, entityType: 'PHONE_NUMBER', phoneNumber: `86139${String(i).padStart(8, '0')}` };
      return { ...e, subject, fingerprint: fingerprintOf(subject), node: describeNode(subject), group: `waba:${wabaId}` };
    });
    const v = buildStatusView({ now: NOW, entities, histories: new Map(), silences: [] });
    expect(v.groups).toHaveLength(770);
    // What needs a look is listed; the rest is counted, with its link.
    expect(v.groups.flatMap((g) => g.nodes).every((n) => n.status !== 'AVAILABLE')).toBe(true);
    expect(v.groups.reduce((n, g) => n + g.nodes.length + g.healthyNotListed, 0)).toBe(10_000);
    const html = renderStatusPage(v, { refreshSeconds: 60 });
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(500 * 1024);
    expect(html).toContain('href="?waba=209000000000000"');
    // A small page still lists every node.
    const small = buildStatusView({ now: NOW, entities: entities.slice(0, PAGE_LISTED_MAX), histories: new Map(), silences: [] });
    expect(small.groups.reduce((n, g) => n + g.nodes.length, 0)).toBe(PAGE_LISTED_MAX);
  });

  it('2,000 firing templates: the incidents list the worst and oldest INCIDENTS_LISTED_MAX and count the rest, so that section stays small', () => {
    const f = statusFixture(10_000, NOW);
    // Every template LIMITED (4 in each WABA of 20), one phone BLOCKED, as a quality wave would leave it.
    const entities = f.entities.map((e, i) =>
      e.subject.entityType === 'MESSAGE_TEMPLATE' ? { ...e, status: 'LIMITED' as const, firing: true, since: NOW - i * 1000 } : i === 3 ? { ...e, status: 'BLOCKED' as const, firing: true, since: NOW } : e,
    );
    const firing = entities.filter((e) => e.firing).length;
    expect(firing).toBeGreaterThan(2_000);
    const v = buildStatusView({ now: NOW, entities, histories: new Map(), silences: [] });
    expect(v.incidentCount).toBe(firing);
    expect(v.incidents).toHaveLength(INCIDENTS_LISTED_MAX);
    expect(v.incidents[0]!.status).toBe('BLOCKED');
    expect(v.incidents[1]!.since).toBe(Math.min(...entities.filter((e) => e.firing && e.status === 'LIMITED').map((e) => e.since)));
    const html = renderStatusPage(v, { refreshSeconds: 60 });
    expect(html).toContain(`Open incidents (${firing})`);
    expect(html).toContain(`${firing - INCIDENTS_LISTED_MAX} more, each listed under its WABA below.`);
    const section = html.slice(html.indexOf('<section id="incidents">'), html.indexOf('<section id="silences">'));
    expect(section.match(/<tr class="incident"/g)).toHaveLength(INCIDENTS_LISTED_MAX);
    expect(Buffer.byteLength(section)).toBeLessThanOrEqual(40 * 1024);
    // Under ?waba= the others' WABAs are not below: they are on the page of all WABAs.
    const one = renderStatusPage(buildStatusView({ now: NOW, entities, histories: new Map(), silences: [], only: '999' }));
    expect(one).toContain(`${firing - INCIDENTS_LISTED_MAX} more, each listed under its WABA on <a href="?">the page of all WABAs</a>.`);
  });

  it("the monitor's own incidents (listed under no WABA) stay listed however many node incidents are older or worse", () => {
    const f = statusFixture(10_000, NOW);
    // 200 BLOCKED phones, firing for days; then the monitor's credentials are refused.
    let blocked = 0;
    const entities = f.entities.map((e) =>
      e.subject.entityType === 'PHONE_NUMBER' && blocked++ < 200 ? { ...e, status: 'BLOCKED' as const, firing: true, since: NOW - 86_400_000 } : e,
    );
    const base = entities[0]!;
    const subject = { nodeType: 'monitor' as const, entityType: 'AuthRefused' };
    const auth = { ...base, subject, fingerprint: fingerprintOf(subject), node: describeNode(subject), group: 'monitor', status: 'ERROR' as const, firing: true, since: NOW - 60_000 };
    const v = buildStatusView({ now: NOW, entities: [...entities, auth], histories: new Map(), silences: [] });
    expect(v.incidentCount).toBe(entities.filter((e) => e.firing).length + 1);
    expect(v.incidentCount).toBeGreaterThan(INCIDENTS_LISTED_MAX);
    expect(v.groups.some((g) => g.nodes.some((n) => n.label.includes('AuthRefused')))).toBe(false);
    expect(v.incidents.filter((i) => i.monitor).map((i) => i.node)).toEqual([auth.node]);
    expect(renderStatusPage(v, { refreshSeconds: 60 })).toContain(`${v.incidentCount - INCIDENTS_LISTED_MAX} more, each listed under its WABA below.`);
    // More of the monitor's own than are listed: the rest are not all under a WABA.
    const rejected = Array.from({ length: INCIDENTS_LISTED_MAX + 1 }, (_, i) => {
      const s = { nodeType: 'monitor' as const, entityType: 'TargetRejected', ref: `t${i}` };
      return { ...auth, subject: s, fingerprint: fingerprintOf(s), node: describeNode(s) };
    });
    const html = renderStatusPage(buildStatusView({ now: NOW, entities: [...entities, ...rejected], histories: new Map(), silences: [] }), { refreshSeconds: 60 });
    expect(html).toMatch(/\d+ more\.<\/p>/);
  });

  describe("the headline: the worst of the nodes and the monitor's own firing alerts", () => {
    const monitorAlert = (entityType: string, opts: { ref?: string; since?: number; firing?: boolean } = {}) => {
      const base = statusFixture(1, NOW).entities[0]!;
      const subject = { nodeType: 'monitor' as const, entityType, ...(opts.ref ? { ref: opts.ref } : {}) };
      const firing = opts.firing ?? true;
      return { ...base, subject, fingerprint: fingerprintOf(subject), node: describeNode(subject), group: 'monitor', status: firing ? ('ERROR' as const) : ('AVAILABLE' as const), firing, since: opts.since ?? NOW - 600_000 };
    };
    const page = (entities: Parameters<typeof buildStatusView>[0]['entities']) => {
      const v = buildStatusView({ now: NOW, entities, histories: new Map(), silences: [] });
      return { v, html: renderStatusPage(v) };
    };
    const healthy = () => statusFixture(5, NOW).entities; // every node AVAILABLE

    it('CAMS refuses the credentials while every node last read AVAILABLE: ERROR, "monitoring impaired" since the alert began, the states may be stale', () => {
      const { v, html } = page([...healthy(), monitorAlert('AuthRefused', { since: Date.parse('2026-03-01T11:50:00Z') })]);
      expect(v.counts.AVAILABLE).toBe(5);
      expect(v.overall).toBe('ERROR');
      expect(v.stale).toEqual({ since: Date.parse('2026-03-01T11:50:00Z'), alerts: ['AuthRefused'] });
      expect(html).toContain('<title>WhatsApp health: ERROR (monitoring impaired)</title>');
      expect(html).toContain('<h1>WhatsApp health <span class="st E">ERROR</span></h1>');
      expect(html).toContain('<p class="err" id="monitoring-impaired"><b>Monitoring impaired</b> since 2026-03-01 11:50 UTC (AuthRefused): no check is being answered, so the states below may be stale since then.</p>');
      // the counts stay the nodes' own
      expect(html).toContain('5 nodes: 5 AVAILABLE · 0 LIMITED · 0 BLOCKED · 0 ERROR.');
      expect(html).not.toContain('id="monitor-alerts"');
    });

    it('a BLOCKED node stays the headline while CAMS is unreachable too; the earliest of two such alerts dates the staleness', () => {
      const nodes = healthy();
      Object.assign(nodes[1]!, { status: 'BLOCKED', firing: true });
      const { v, html } = page([...nodes, monitorAlert('CamsUnreachable', { since: NOW - 60_000 }), monitorAlert('AuthRefused', { since: NOW - 120_000 })]);
      expect(v.overall).toBe('BLOCKED');
      expect(v.stale).toEqual({ since: NOW - 120_000, alerts: ['AuthRefused', 'CamsUnreachable'] });
      expect(html).toContain('<title>WhatsApp health: BLOCKED (monitoring impaired)</title>');
      expect(html).toContain('since 2026-03-01 11:58 UTC (AuthRefused, CamsUnreachable)');
    });

    it("the monitor's other alerts (a target rejected, a sink refusing) make it ERROR and are named, without calling every state stale", () => {
      const { v, html } = page([...healthy(), monitorAlert('TargetRejected', { ref: 'a' }), monitorAlert('TargetRejected', { ref: 'b' }), monitorAlert('SinkRejected', { ref: 'dingtalk' })]);
      expect(v.overall).toBe('ERROR');
      expect(v.stale).toBeUndefined();
      expect(html).toContain('<title>WhatsApp health: ERROR</title>');
      expect(html).toContain('<p id="monitor-alerts">The monitor\'s own alerts firing: SinkRejected, TargetRejected ×2, listed first under Open incidents.</p>');
      expect(html).not.toContain('Monitoring impaired');
      // beside a stale one, the others are "also firing"
      const both = page([...healthy(), monitorAlert('AuthRefused'), monitorAlert('SinkRejected', { ref: 'dingtalk' })]).html;
      expect(both).toContain('<p id="monitor-alerts">The monitor\'s other alerts firing: SinkRejected, listed first under Open incidents.</p>');
    });

    // Listed under no WABA, a monitor alert's errors were on the page nowhere: "OnboardingFailed (ob-…)"
    // said neither the step nor CAMS's code nor what to do, all of which GET /health-report gives.
    it("the monitor's own incidents show their errors and PossibleSolution (escaped), as GET /health-report does", () => {
      const failed = {
        ...monitorAlert('OnboardingFailed', { ref: 'ob-1' }),
        errors: [{ ErrorCode: 'Phone.Exists', ErrorDescription: 'addPhone: <b>+8613800000000</b> has already been added.', PossibleSolution: 'Fix the cause, then submit again (GET /onboardings/ob-1).' }],
      };
      const { v, html } = page([...healthy(), failed]);
      expect(v.incidents[0]).toMatchObject({ monitor: true, errors: failed.errors });
      const row = html.slice(html.indexOf('<tr class="incident"'), html.indexOf('</tr>', html.indexOf('<tr class="incident"')));
      expect(row).toContain('<p class="err"><b>Phone.Exists</b> addPhone: &lt;b&gt;+8613800000000&lt;/b&gt; has already been added.<br>PossibleSolution: Fix the cause, then submit again (GET /onboardings/ob-1).</p>');
      // a node's own errors stay under its WABA, not repeated in the incidents
      const nodes = healthy();
      Object.assign(nodes[1]!, { status: 'LIMITED', firing: true, errors: [{ ErrorCode: 'E1', ErrorDescription: 'limited' }] });
      const withNode = page(nodes).html;
      expect(withNode.split('<b>E1</b>')).toHaveLength(2);
    });

    it('a resolved monitor alert leaves the headline to the nodes; with no node checked yet, refused credentials still read ERROR', () => {
      const resolved = page([...healthy(), monitorAlert('AuthRefused', { firing: false })]);
      expect(resolved.v.overall).toBe('AVAILABLE');
      expect(resolved.html).toContain('<title>WhatsApp health: AVAILABLE</title>');
      expect(resolved.html).not.toMatch(/monitoring-impaired|monitor-alerts/);
      const first = page([monitorAlert('AuthRefused')]);
      expect(first.html).toContain('<title>WhatsApp health: ERROR (monitoring impaired)</title>');
      expect(first.html).toContain('No node has been checked yet.');
    });
  });

  it('10,000 nodes make a page of at most 500 KB (the bench times it)', () => {
    const f = statusFixture(10_000, NOW);
    const html = renderStatusPage(buildStatusView({ now: NOW, entities: f.entities, histories: f.histories, silences: [] }), { refreshSeconds: 60 });
    expect(Buffer.byteLength(html)).toBeLessThanOrEqual(500 * 1024);
    expect(html).toContain('<meta http-equiv="refresh" content="60">');
    expect(html).toContain('10000 nodes: 9900 AVAILABLE · 50 LIMITED · 50 BLOCKED · 0 ERROR');
  });
});
