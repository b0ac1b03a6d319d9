import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { answerClientError } from '../../../local/host/client-error.ts';

/** A socket that records what is written to it. */
function socket(): Duplex & { written: () => string; destroyedNow: () => boolean } {
  const parts: Buffer[] = [];
  const s = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      parts.push(Buffer.from(chunk));
      cb();
    },
  });
  return Object.assign(s, { written: () => Buffer.concat(parts).toString('utf8'), destroyedNow: () => s.destroyed });
}

const err = (code: string) => Object.assign(new Error(code), { code });

function reply(text: string): { status: number; body: Record<string, unknown> } {
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(head!.split(' ')[1]), body: JSON.parse(body!) as Record<string, unknown> };
}

describe('answerClientError', () => {
  it('maps what Node refuses to a status and a CAMS envelope carrying the request id', () => {
    for (const [code, status, camsCode] of [
      ['HPE_HEADER_OVERFLOW', 431, 'RequestHeaderFieldsTooLarge'],
      ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'RequestTimeout'],
      ['HPE_INVALID_METHOD', 400, 'BadRequest'],
    ] as const) {
      const s = socket();
      answerClientError(err(code), s, 'req-1');
      const r = reply(s.written());
      expect(r.status).toBe(status);
      expect(r.body).toMatchObject({ RequestId: 'req-1', Code: camsCode, Success: false });
      expect(s.written()).toContain('x-fc-request-id: req-1\r\n');
    }
  });

  it('writes nothing on a reset connection or when a reply is already under way', () => {
    const reset = socket();
    answerClientError(err('ECONNRESET'), reset, 'req-2');
    expect(reset.written()).toBe('');
    expect(reset.destroyedNow()).toBe(true);

    const busy = Object.assign(socket(), { _httpMessage: { headersSent: true } });
    answerClientError(err('HPE_INVALID_CONSTANT'), busy, 'req-3');
    expect(busy.written()).toBe('');
    expect(busy.destroyedNow()).toBe(true);
  });
});
