import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isSecretKey, redactSecrets } from '../../../shared/log/log.ts';
import { redactUrlCredentials } from '../../../shared/log/redact.ts';

describe('redactUrlCredentials', () => {
  it.each([
    ['redis://:s3cret@10.0.0.1:6379/0', 'redis://***@10.0.0.1:6379/0'],
    ['rediss://default:p%40ss@r-abc.redis.rds.aliyuncs.com:6380', 'rediss://***@r-abc.redis.rds.aliyuncs.com:6380'],
    ['https://user@example.com/hook', 'https://***@example.com/hook'],
    ['store redis://a:b@h:1 and http://c:d@e/', 'store redis://***@h:1 and http://***@e/'],
  ])('%s', (input, expected) => {
    expect(redactUrlCredentials(input)).toBe(expected);
    expect(redactUrlCredentials(input)).not.toMatch(/s3cret|p%40ss|:b@|:d@/);
  });

  // A password as Alibaba Cloud Redis allows it (special characters include @) and as WHATWG URL
  // reads it: the userinfo ends at the authority's last @, so the store connects with all of it.
  it.each([
    ['redis://:Abc@12345@r-xxx.redis.rds.aliyuncs.com:6379/0', 'redis://***@r-xxx.redis.rds.aliyuncs.com:6379/0', 'Abc@12345'],
    ["redis://:Pa'ss99x@host:6379", 'redis://***@host:6379', "Pa'ss99x"],
    ['store: rediss://default:k3y@s3c@xyz9@host:6380/1 (connected)', 'store: rediss://***@host:6380/1 (connected)', 'k3y@s3c@xyz9'],
  ])('hides every character of a password the URL parser accepts: %s', (input, expected, password) => {
    expect(decodeURIComponent(new URL(input.replace(/^store: | \(connected\)$/g, '')).password)).toBe(password);
    expect(redactUrlCredentials(input)).toBe(expected);
    for (const part of password.split('@')) expect(redactUrlCredentials(input)).not.toContain(part);
  });

  it('hides a password holding a quote in a JSON line, and never reads past the end of a JSON string', () => {
    const line = JSON.stringify({ store: 'redis://:Pa"ss99x@host:6379', n: 1 });
    expect(redactUrlCredentials(line)).toBe('{"store":"redis://***@host:6379","n":1}');
    const record = JSON.stringify({ url: 'http://h:1', by: 'ops@example.com' });
    expect(redactUrlCredentials(record)).toBe(record);
  });

  it('leaves URLs without credentials and plain text alone', () => {
    for (const s of ['redis://127.0.0.1:6379', 'file:./.data/dev', 'mail me at a@b.c', 'https://oapi.dingtalk.com/robot/send?access_token=x']) {
      expect(redactUrlCredentials(s)).toBe(s);
    }
  });

  it('applies to every string a log record carries, at any depth', () => {
    const out = JSON.stringify(redactSecrets({ msg: 'store redis://:pw123@h:6379', nested: { urls: ['redis://u:pw456@h'] } }));
    expect(out).not.toContain('pw123');
    expect(out).not.toContain('pw456');
    expect(out).toContain('redis://***@h:6379');
  });
});

describe('isSecretKey', () => {
  it('is /secret|password|token|signature|authorization|credential|sign$/ on a lower-cased key', () => {
    const re = /secret|password|token|signature|authorization|credential|sign$/;
    for (const k of ['secret', 'accesskeysecret', 'password', 'x-token', 'signature', 'authorization', 'credentials', 'sign', 'design', 'signs', 'signed', 'requestid', 'toke', 'passwor', '']) {
      expect(isSecretKey(k), k).toBe(re.test(k));
    }
    const word = fc.constantFrom('secret', 'password', 'token', 'signature', 'authorization', 'credential', 'sign', 'sig', 'n', 's', 'x', '-', 'secre', 'tok');
    fc.assert(
      fc.property(fc.array(word, { maxLength: 4 }), (parts) => {
        const k = parts.join('');
        expect(isSecretKey(k)).toBe(re.test(k));
      }),
      { numRuns: 20_000 },
    );
  });
});
