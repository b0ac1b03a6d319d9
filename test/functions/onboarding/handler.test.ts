import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../../shared/store/port.ts';
import { fcContext, fixture } from '../../support/events.ts';
import { tempFileStore } from '../../support/monitor.ts';

let store: Store;
let cleanup: () => Promise<void>;
let handler: (event: unknown, context?: never) => Promise<unknown>;
const lines: string[] = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  let url: string;
  ({ store, url, cleanup } = await tempFileStore());
  process.env['STORE_URL'] = url;
  ({ handler } = (await import('../../../functions/onboarding/handler.ts')) as unknown as { handler: typeof handler });
  process.stdout.write = ((chunk: string | Uint8Array) => (lines.push(String(chunk)), true)) as typeof process.stdout.write;
});
afterAll(async () => {
  process.stdout.write = write;
  delete process.env['STORE_URL'];
  await cleanup();
});

const context = (requestId: string) => fcContext({ requestId, function: { name: 'onboarding', timeout: 300 } }) as never;

describe('the onboarding function', () => {
  it('answers an invalid event with its field errors and no id, writes nothing; two invalid events share nothing', async () => {
    const event = (id: string, data: unknown) => Buffer.from(JSON.stringify({ ...fixture('eventbridge-event.json'), id, data }));
    const a = await handler(event('bad-1', { WabaId: 'x', Cc: '65', PhoneNumber: '95000009', VerifiedName: 'Acme Shop' }), context('r1'));
    const b = await handler(event('bad-2', {}), context('r2'));
    expect(a).toMatchObject({ status: 'invalid', fields: [expect.objectContaining({ Field: 'WabaId' })] });
    expect(b).toMatchObject({ status: 'invalid', fields: expect.arrayContaining([expect.objectContaining({ Field: 'Cc' }), expect.objectContaining({ Field: 'VerifiedName' })]) });
    expect(a).not.toHaveProperty('onboardingId');
    expect(b).not.toHaveProperty('onboardingId');
    expect(await store.list('')).toEqual([]);
    const logged = lines.filter((l) => l.includes('"outcome":"invalid"'));
    expect(logged).toHaveLength(2);
    expect(logged[0]).toContain('WabaId');
  });

  it('an unknown key in an event\'s payload is named by its path, as POST /onboardings names it', async () => {
    const p = { WabaId: '3500000000008', Cc: '65', PhoneNumber: '95000008', VerifiedName: 'Acme Shop' };
    const event = { ...fixture('eventbridge-event.json'), id: 'bad-keys', data: { ...p, wabaId: p.WabaId, Templates: [{ TemplateCode: 'order_update', Language: 'en_US', Colour: 'red' }] } };
    const out = await handler(Buffer.from(JSON.stringify(event)), context('r-keys'));
    expect(out).toMatchObject({
      status: 'invalid',
      fields: [
        { Field: 'Templates.0.Colour', Message: 'is not a field here' },
        { Field: 'wabaId', Message: 'is not a field of an onboarding' },
      ],
    });
    expect(await store.list('')).toEqual([]);
  });

  it('a queued message whose body gives a key twice is invalid, naming it, as POST /onboardings refuses it: no WABA bound on a guess', async () => {
    const body = '{"WabaId":"3500000000010","Cc":"65","PhoneNumber":"95000010","VerifiedName":"Acme Shop","WabaId":"3500000000011"}';
    const queued = (messageBody: string, id: string) => {
      const e = fixture<Record<string, unknown> & { data: Record<string, string> }>('mns-queue-event.json');
      return Buffer.from(JSON.stringify({ ...e, id, data: { ...e.data, messageId: id, messageBody } }));
    };
    const repeated = { status: 'invalid', fields: [{ Field: 'WabaId', Message: 'is given more than once in the message body' }] };
    // As sent, base64-encoded (an MNS SDK's default), and as an EventBridge event's data given as text.
    expect(await handler(queued(body, 'dup-raw'), context('r-dup1'))).toMatchObject(repeated);
    expect(await handler(queued(Buffer.from(body).toString('base64'), 'dup-b64'), context('r-dup2'))).toMatchObject(repeated);
    expect(await handler(Buffer.from(JSON.stringify({ ...fixture('eventbridge-event.json'), id: 'dup-data', data: body })), context('r-dup3'))).toMatchObject(repeated);
    // Nested: the path names it.
    const nested = '{"WabaId":"3500000000012","Cc":"65","PhoneNumber":"95000012","VerifiedName":"Acme Shop","Templates":[{"TemplateCode":"a","TemplateCode":"b","Language":"en"}]}';
    expect(await handler(queued(nested, 'dup-nested'), context('r-dup4'))).toMatchObject({ status: 'invalid', fields: [{ Field: 'Templates.0.TemplateCode' }] });
    expect(await store.list('')).toEqual([]);
  });

  it('a hand-made invocation whose OnboardingId is not one of ours is invalid, naming the field: nothing indexed, nothing for FC to retry', async () => {
    const payload = { WabaId: '3500000000009', Cc: '65', PhoneNumber: '95000009', VerifiedName: 'Acme Shop' };
    for (const OnboardingId of ['x'.repeat(2000), '', 'ob-1']) {
      const out = await handler(Buffer.from(JSON.stringify({ OnboardingId, Payload: payload })), context('r-id'));
      expect(out).toMatchObject({ status: 'invalid', fields: [{ Field: 'OnboardingId', Message: expect.stringContaining('ob- and 24 hex digits') }] });
    }
    expect(await store.list('')).toEqual([]);
  });

  it('a timer event is a re-drive tick (nothing to re-drive here)', async () => {
    const out = await handler(Buffer.from(JSON.stringify(fixture('timer-event.json'))), context('r3'));
    expect(out).toEqual({ active: 0, redriven: 0, done: 0, failed: 0, gaveUp: 0, errors: 0 });
    expect(lines.some((l) => l.includes('"outcome":"redrive"'))).toBe(true);
  });
});
