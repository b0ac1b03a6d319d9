import { describe, expect, it } from 'vitest';
import { e164Problem, verifiedNameProblem } from '../../../shared/validation/cams-fields.ts';

describe('verifiedNameProblem: WhatsApp display-name rules', () => {
  it.each([
    ['Acme Shop'],
    ['IBM'],
    ["Joe's Café & Bakery"],
    ['阿里巴巴'],
    ['Acme (Singapore) Pte. Ltd.'],
    ['Dr. Müller-Lüdenscheidt'],
  ])('accepts %j', (name) => {
    expect(verifiedNameProblem(name)).toBeUndefined();
  });

  it.each([
    ['AB', 'at least 3 characters'],
    ['x'.repeat(513), 'at most 512 characters'],
    [' Acme', 'start or end with spaces'],
    ['Acme  Shop', 'repeated spaces'],
    ['Acme 🙂', 'emoji'],
    ['Acme 🇸🇬', 'emoji'],
    ['www.acme.com', 'URL'],
    ['https://acme', 'URL'],
    ['Acme for WhatsApp', 'WhatsApp'],
    ['Acme@Shop', 'only letters'],
    ['Acme #1', 'only letters'],
    ['Acme!!', 'repeat punctuation'],
    ['Acme..', 'repeat punctuation'],
    ['ACME SHOP', 'all capitals'],
  ])('rejects %j (%s)', (name, rule) => {
    expect(verifiedNameProblem(name)).toContain(rule);
  });
});

describe('e164Problem', () => {
  it('allows up to 15 digits in Cc + PhoneNumber and names the count past it', () => {
    expect(e164Problem('86', '1380000000000')).toBeUndefined();
    expect(e164Problem('86', '13800000000000')).toContain('16 digits');
  });
});
