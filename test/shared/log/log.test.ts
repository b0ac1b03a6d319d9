import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { processStreamLog } from '../../../shared/log/log.ts';

/** A stream like a pipe whose reader went away after `ok` writes: the next write fails with EPIPE. */
function pipe(ok: number) {
  const written: string[] = [];
  let made = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (written.length >= ok) return cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' }));
      written.push(chunk.toString());
      cb();
    },
  });
  let writes = 0;
  const write = stream.write.bind(stream);
  stream.write = ((...args: Parameters<typeof write>) => (writes++, write(...args))) as typeof stream.write;
  return { written, made: () => made, writes: () => writes, stream: () => (made++, stream) };
}

describe('processStreamLog', () => {
  it('writes each line with its newline; the stream is made on the first line, once', () => {
    const p = pipe(10);
    const log = processStreamLog(p.stream);
    expect(p.made()).toBe(0);
    log('one');
    log('two');
    expect(p.written).toEqual(['one\n', 'two\n']);
    expect(p.made()).toBe(1);
  });

  it('a stream that goes away (EPIPE) drops the lines from then on, and nothing is thrown or left unhandled', async () => {
    const p = pipe(1);
    const log = processStreamLog(p.stream);
    log('kept');
    log('lost');
    // the failure arrives as the stream's 'error' event, a tick later
    await new Promise((r) => setImmediate(r));
    expect(() => log('after')).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(p.written).toEqual(['kept\n']);
    // not even tried once the stream is known gone
    expect(p.writes()).toBe(2);
  });
});
