import { describe, expect, it } from 'vitest';
import { readMessageBody } from '../../../shared/fc/mns-body.ts';

const parseMessageBody = (body: string) => readMessageBody(body).value;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('readMessageBody', () => {
  it('reads a raw JSON body as it is', () => {
    expect(parseMessageBody('[{"Type":"template"}]')).toEqual([{ Type: 'template' }]);
    expect(parseMessageBody(' {"WabaId":"1"} ')).toEqual({ WabaId: '1' });
  });

  it('reads base64 of JSON (an MNS SDK default) as that JSON, unicode included', () => {
    expect(parseMessageBody(b64('[{"Type":"template","Reason":"违反政策 😀"}]'))).toEqual([{ Type: 'template', Reason: '违反政策 😀' }]);
    expect(parseMessageBody(`${b64('{"WabaId":"12"}')}\n`)).toEqual({ WabaId: '12' });
  });

  it('a body that starts with a byte order mark (raw or in its base64) is read as its JSON, as an HTTP body is', () => {
    expect(parseMessageBody('\ufeff[{"Type":"template"}]')).toEqual([{ Type: 'template' }]);
    expect(parseMessageBody(b64('\ufeff{"WabaId":"12"}'))).toEqual({ WabaId: '12' });
  });

  it('a body that is neither throws the JSON error, not something else', () => {
    for (const body of ['<xml>not json</xml>', b64('not json either'), 'YWJj!', '', '====', b64('\u00ff').slice(0, 2) + '==']) {
      expect(() => parseMessageBody(body), JSON.stringify(body)).toThrow(SyntaxError);
    }
    // base64 of bytes that are not UTF-8
    expect(() => parseMessageBody(Buffer.from([0xff, 0xfe, 0x7b, 0x7d]).toString('base64'))).toThrow(SyntaxError);
  });

  it('JSON that happens to be valid base64 too stays JSON', () => {
    expect(parseMessageBody('1234')).toBe(1234);
    expect(parseMessageBody('true')).toBe(true);
  });
});
