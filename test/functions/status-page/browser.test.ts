// The status page in a real browser: Debian's chromium driven by playwright-core (never downloaded),
// against `npm start`'s host (serverless.yml, the CAMS sandbox, a file store), with the monitor's
// state made by real sweeps. Screenshots go to test-artifacts/status-page/ (gitignored).
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHost, type RunningHost } from '../../../local/host/host.ts';
import { DEFAULT_SANDBOX_KEYS } from '../../../local/sandbox/server.ts';
import { CamsClient } from '../../../shared/cams/client.ts';
import { CamsBudget } from '../../../shared/cams/budget/budget.ts';
import type { NodeHistory } from '../../../shared/history/history.ts';
import { historyKey } from '../../../shared/history/record.ts';
import type { EntityState } from '../../../shared/monitor/entity-state.ts';
import { ENTITY_PREFIX } from '../../../shared/monitor/entity-store.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import type { WatchTarget } from '../../../shared/monitor/targets.ts';
import { openStore } from '../../../shared/store/index.ts';
import { update, type Store } from '../../../shared/store/port.ts';
import { lastDays } from '../../../shared/status-page/view.ts';
import { httpRequest } from '../../../shared/http/request.ts';
import { callRoute } from '../../local/host/support.ts';
import { RecordingSink } from '../../support/monitor.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/status-page/', import.meta.url));
const TOKEN = 'status-page-test-token-0001';
const WABA = '299399000777';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let host: RunningHost;
let store: Store;
let dir: string;
let space: string;
const contexts: BrowserContext[] = [];
/** Chromium's profile folders, removed once their contexts are closed. */
const profiles: string[] = [];
const consoleErrors: string[] = [];

const available = existsSync(CHROMIUM);
// Under CI (.ci/run installs chromium) a missing browser is a failure, not a skip.
const describeBrowser = available || process.env['CI'] === 'true' ? describe : describe.skip;

async function control(method: string, path: string, body?: unknown) {
  const res = await httpRequest(new URL(path, host.sandboxUrl), { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`sandbox ${path}: ${res.status} ${res.body.toString()}`);
}
const setHealth = (node: Record<string, unknown>) => control('PUT', '/__sandbox/health', node);

const targets = (): WatchTarget[] => [
  { CustSpaceId: space, NodeType: 'waba', WabaId: WABA },
  { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000771' },
  { CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000772' },
];

async function sweep(): Promise<void> {
  const cams = new CamsClient({ endpoint: host.sandboxUrl!, credentials: DEFAULT_SANDBOX_KEYS[0]!, qps: { GetWhatsappHealthStatus: 50 }, budget: new CamsBudget({ qps: { GetWhatsappHealthStatus: 50 } }) });
  const report = await new HealthSweep({
    store,
    cams,
    sinks: [new RecordingSink()],
    policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
    envTargets: targets(),
    concurrency: 3,
    deadline: Date.now() + 20_000,
  }).run();
  // Each state is one whole round: a skipped or partial sweep would show the previous state.
  expect(report).toMatchObject({ checked: 3, roundComplete: true });
  expect(report.skipped).toBeUndefined();
}

async function browserContext(javaScriptEnabled: boolean): Promise<BrowserContext> {
  const profile = mkdtempSync(join(tmpdir(), 'cams-fc-chromium-'));
  profiles.push(profile);
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, javaScriptEnabled, viewport: { width: 1100, height: 900 } });
  contexts.push(ctx);
  return ctx;
}

function watch(page: Page): void {
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
}

async function show(page: Page, name: string): Promise<void> {
  const res = await page.goto(`${host.url}/status`);
  expect(res?.status()).toBe(200);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

const texts = (page: Page, sel: string) => page.locator(sel).allInnerTexts();

describeBrowser('GET /status in chromium', () => {
  let page: Page;

  beforeAll(async () => {
    process.env['LOG_LEVEL'] = 'warn';
    dir = mkdtempSync(join(tmpdir(), 'cams-fc-status-'));
    // The sandbox's limit is the test client's rate (50/s): back-to-back states must not be throttled.
    host = await startHost({ port: 0, sandbox: { port: 0, qps: { GetWhatsappHealthStatus: 50 } }, timers: false, log: () => {}, env: { STORE_URL: `file:${dir}`, STATUS_PAGE_TOKEN: TOKEN, LOG_LEVEL: 'warn', PATH: process.env['PATH'] } });
    store = await openStore(`file:${dir}`);
    // `npm start` prints where the page is, not the token.
    const banner = host.banner().join('\n');
    expect(banner).toContain(`status page: ${host.url}/status?token=<STATUS_PAGE_TOKEN>`);
    expect(banner).not.toContain(TOKEN);
    const bound = await callRoute(host.url, { method: 'POST', path: '/waba/bind', body: { WabaId: WABA } });
    space = bound.json.Data!['CustSpaceId'] as string;
    for (const p of ['13800000771', '13800000772']) {
      const r = await callRoute(host.url, { method: 'POST', path: '/phone-numbers', body: { CustSpaceId: space, Cc: '86', PhoneNumber: p, VerifiedName: 'Acme Shop' } });
      expect(r.status).toBe(200);
    }
    page = await (await browserContext(true)).newPage();
    watch(page);
    // ?token= once: the cookie is set and the token leaves the address bar.
    const first = await page.goto(`${host.url}/status?token=${TOKEN}`);
    expect(first?.status()).toBe(200);
    expect(page.url()).toBe(`${host.url}/status`);
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    for (const p of profiles) rmSync(p, { recursive: true, force: true });
    await store?.close();
    await host?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    delete process.env['LOG_LEVEL'];
  });

  it('state 1: all AVAILABLE', async () => {
    await sweep();
    await show(page, '1-all-available');
    expect(await page.title()).toBe('WhatsApp health: AVAILABLE');
    expect(await page.locator('#summary').innerText()).toMatch(/^5 nodes: 5 AVAILABLE · 0 LIMITED · 0 BLOCKED · 0 ERROR/);
    expect(await page.locator('.group').count()).toBe(1);
    expect(await page.locator('.group h2').innerText()).toBe(`WABA ${WABA}`);
    expect(new Set(await texts(page, '.node .st'))).toEqual(new Set(['AVAILABLE']));
    expect(await texts(page, '.node .name')).toEqual(expect.arrayContaining(['phone 8613800000771', 'phone 8613800000772', `WABA ${WABA}`]));
    expect(await page.locator('#incidents h2').innerText()).toBe('Open incidents (0)');
    const today = new Date().toISOString().slice(0, 10);
    // Today's cell is the last of each bar; its tooltip names the day and the state.
    const cell = page.locator('.node .bar').first().locator('i').last();
    expect(await cell.getAttribute('class')).toMatch(/^A /);
    expect(await cell.getAttribute('title')).toMatch(new RegExp(`${today}: AVAILABLE$`));
    expect(await page.locator('.bar').first().locator('i').evaluateAll((cells) => cells.reduce((n, c) => n + Number(/w(\d+)/.exec(c.className)![1]), 0))).toBe(90);
  });

  it('state 2: one LIMITED phone', async () => {
    await setHealth({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000771', CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '131048', ErrorDescription: 'Spam rate limit hit', PossibleSolution: 'Check the quality of your messages' }] });
    await sweep();
    await show(page, '2-one-limited-phone');
    expect(await page.title()).toBe('WhatsApp health: LIMITED');
    expect(await page.locator('#summary').innerText()).toMatch(/^5 nodes: 4 AVAILABLE · 1 LIMITED · 0 BLOCKED/);
    const limited = page.locator('.node[data-state="LIMITED"]');
    expect(await limited.count()).toBe(1);
    expect(await limited.locator('.name').innerText()).toBe('phone 8613800000771');
    expect(await limited.locator('.err').innerText()).toContain('PossibleSolution: Check the quality of your messages');
    expect(await limited.innerText()).toMatch(/last checked \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(await page.locator('.incident').count()).toBe(1);
    expect(await page.locator('.incident').innerText()).toContain('8613800000771');
    const today = new Date().toISOString().slice(0, 10);
    const cell = limited.locator('.bar i').last();
    expect(await cell.getAttribute('class')).toMatch(/^L /);
    expect(await cell.getAttribute('title')).toBe(`${today}: LIMITED`);
  });

  it('state 3: a BLOCKED WABA with inhibited children, and a silence', async () => {
    await setHealth({ CustSpaceId: space, NodeType: 'waba', WabaId: WABA, CanSendMessage: 'BLOCKED', Errors: [{ ErrorCode: '141006', ErrorDescription: 'payment method', PossibleSolution: 'Add a valid payment method in Business Manager' }] });
    await setHealth({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000772', CanSendMessage: 'BLOCKED' });
    const silenced = await callRoute(host.url, {
      method: 'POST',
      path: '/silences',
      body: { Matchers: [{ Name: 'PhoneNumber', Value: '8613800000771' }], EndsAt: new Date(Date.now() + 3_600_000).toISOString(), CreatedBy: 'ops@example.com', Comment: 'appeal filed' },
    });
    expect(silenced.status).toBe(200);
    await sweep();
    await show(page, '3-blocked-waba');
    expect(await page.title()).toBe('WhatsApp health: BLOCKED');
    const group = page.locator('.group');
    expect(await group.getAttribute('data-state')).toBe('BLOCKED');
    expect(await page.locator('.node[data-state="BLOCKED"] .name').allInnerTexts()).toEqual(expect.arrayContaining([`WABA ${WABA}`, 'phone 8613800000772']));
    expect(await page.locator('.node', { hasText: 'held back: its WABA is BLOCKED' }).count()).toBe(2);
    expect(await page.locator('.node', { hasText: `WABA ${WABA}` }).locator('.err').innerText()).toContain('PossibleSolution: Add a valid payment method in Business Manager');
    expect(await page.locator('.incident').first().innerText()).toContain(`WABA ${WABA}`);
    const silenceRow = page.locator('.silence');
    expect(await silenceRow.count()).toBe(1);
    expect(await silenceRow.innerText()).toContain('PhoneNumber=8613800000771');
    expect(await silenceRow.innerText()).toContain('appeal filed');
    expect(await page.locator('.node', { hasText: 'phone 8613800000771' }).innerText()).toContain('silenced');
  });

  it('opens from a ?token= link on another site (a chat message, a wiki page), and stays open', async () => {
    // localhost is another site than the host's 127.0.0.1: the click is a cross-site navigation.
    const elsewhere = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<a id="open" href="${host.url}/status?token=${TOKEN}">status</a>`));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    try {
      const p = await (await browserContext(true)).newPage();
      await p.goto(`http://localhost:${(elsewhere.address() as AddressInfo).port}/`);
      const [res] = await Promise.all([p.waitForNavigation(), p.click('#open')]);
      expect(res?.status()).toBe(200);
      expect(p.url()).toBe(`${host.url}/status`);
      expect(await p.title()).toMatch(/^WhatsApp health: /);
      expect((await p.reload())?.status()).toBe(200);
    } finally {
      elsewhere.closeAllConnections();
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });

  it('has no console error (the CSP allows the page\'s own style) and reads the same with JavaScript off', async () => {
    expect(consoleErrors).toEqual([]);
    const noJs = await browserContext(false);
    const p = await noJs.newPage();
    watch(p);
    await p.setExtraHTTPHeaders({ authorization: `Bearer ${TOKEN}` });
    const res = await p.goto(`${host.url}/status`);
    expect(res?.status()).toBe(200);
    expect(await p.title()).toBe('WhatsApp health: BLOCKED');
    expect(await p.locator('.silence').count()).toBe(1);
    expect(await p.locator('.incident').count()).toBeGreaterThan(0);
    // The style applied (hash-allowed): a BLOCKED badge is red, white text.
    expect(await p.locator('.st.B').first().evaluate((e) => (globalThis as unknown as { getComputedStyle(el: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor)).toBe('rgb(207, 34, 46)');
    await p.setViewportSize({ width: 375, height: 800 });
    await p.screenshot({ path: join(ARTIFACTS, '4-phone-no-js.png'), fullPage: true });
    // Nothing wider than a phone's screen.
    expect(await p.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(consoleErrors).toEqual([]);
  });
  it('reads on a phone when CAMS gives a long URL (no space to break at) as the error and its PossibleSolution, and a silence\'s comment holds one', async () => {
    const url = 'https://business.facebook.com/wa/manage/phone-numbers/?waba_id=299399000777&business_id=1234567890123&phone_number_id=8613800000772';
    await setHealth({ CustSpaceId: space, NodeType: 'phone', PhoneNumber: '8613800000772', CanSendMessage: 'LIMITED', Errors: [{ ErrorCode: '131048', ErrorDescription: `Spam rate limit hit: ${url}`, PossibleSolution: url }] });
    // A silence's comment often holds the ticket's URL.
    const silenced = await callRoute(host.url, {
      method: 'POST',
      path: '/silences',
      body: { Matchers: [{ Name: 'PhoneNumber', Value: '8613800000772' }], EndsAt: new Date(Date.now() + 3_600_000).toISOString(), CreatedBy: 'ops@example.com', Comment: `${url}&ticket=OPS-12345` },
    });
    expect(silenced.status).toBe(200);
    await sweep();
    const p = await (await browserContext(false)).newPage();
    watch(p);
    await p.setExtraHTTPHeaders({ authorization: `Bearer ${TOKEN}` });
    await p.setViewportSize({ width: 375, height: 800 });
    expect((await p.goto(`${host.url}/status`))?.status()).toBe(200);
    expect(await p.locator('.node', { hasText: 'phone 8613800000772' }).locator('.err').innerText()).toContain(`PossibleSolution: ${url}`);
    await p.screenshot({ path: join(ARTIFACTS, '5-phone-long-url.png'), fullPage: true });
    expect(await p.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(consoleErrors).toEqual([]);
  });
  it('reads on a phone when a bar changes state every day (a WABA\'s bar, the worst of its nodes each day, can)', async () => {
    const phone = (await store.list<EntityState>(ENTITY_PREFIX)).map((e) => e.value).find((e) => e.subject.entityType === 'PHONE_NUMBER' && e.subject.phoneNumber === '8613800000771')!;
    await update<NodeHistory>(store, historyKey(phone), (h) => ({ ...h!, days: lastDays(Date.now()).map((day, i) => ({ day, worst: i % 2 ? 'LIMITED' : 'AVAILABLE' })) }));
    const p = await (await browserContext(false)).newPage();
    watch(p);
    await p.setExtraHTTPHeaders({ authorization: `Bearer ${TOKEN}` });
    await p.setViewportSize({ width: 375, height: 800 });
    expect((await p.goto(`${host.url}/status`))?.status()).toBe(200);
    expect(await p.locator('.node', { hasText: 'phone 8613800000771' }).locator('.bar i').count()).toBe(90);
    await p.screenshot({ path: join(ARTIFACTS, '6-phone-daily-changes.png'), fullPage: true });
    expect(await p.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(consoleErrors).toEqual([]);
  });
});
