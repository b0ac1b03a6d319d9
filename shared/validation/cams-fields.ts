import * as z from './schema.ts';

/** A required string field whose messages say what is wrong in plain words. */
export function requiredString() {
  return z.string({ error: (iss) => (iss.input === undefined ? 'is required' : typeof iss.input === 'number' ? numberProblem(iss.input) : 'must be a string') });
}

/**
 * A JSON number where text is expected. A whole one JSON holds exactly stands for its digits
 * (params.ts); one past 2^53 was already rounded by the parse, so its digits are not the caller's.
 */
function numberProblem(n: number): string {
  if (n < 0 || !Number.isInteger(n)) return 'is a negative or fractional number: send the value as a string';
  return Number.isSafeInteger(n) ? 'must be a string' : 'is a number too large to be exact: send it as a string';
}

/**
 * A field's schema, built on its first use and kept. Building zod schemas is a measurable part of a
 * cold start, and each function validates a few of these fields: the others are never built.
 */
function field<T>(build: () => T): () => T {
  let schema: T | undefined;
  return () => (schema ??= build());
}

const digits = (what: string, min: number, max: number) =>
  requiredString().check(z.regex(new RegExp(`^\\d{${min},${max}}$`), `must be ${what}: ${min === max ? min : `${min}-${max}`} digits`));

export const WabaId = field(() => digits('the WhatsApp Business Account id', 1, 32));
// Ids CAMS issues are letters, digits, _ and -: anything else cannot name an existing resource.
export const CustSpaceId = field(() =>
  requiredString().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or - (the CustSpaceId returned by ChatappBindWaba)')),
);
export const IsvCode = field(() => requiredString().check(z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')));
/**
 * Deprecated by CAMS and passed through as given. Any text, but well-formed: a lone surrogate has no
 * UTF-8 form, and the form encoder (as the SDK's) folds it into the next character, so CAMS would get
 * another value than the caller's.
 */
export const PreValidateId = field(() =>
  requiredString().check(
    z.maxLength(128, 'must be at most 128 characters'),
    z.refine((v: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(v), 'must be well-formed text (no unpaired surrogate)'),
  ),
);
/** Country calling code without "+" or leading zeros. */
export const Cc = field(() => requiredString().check(z.regex(/^[1-9]\d{0,2}$/, 'must be the country calling code: 1-3 digits, no "+" or leading 0')));
/** AddChatappPhoneNumber's PhoneNumber: the national number, beside its Cc. */
export const PhoneNumber = field(() => requiredString().check(z.regex(/^\d{4,14}$/, 'must be the national number: 4-14 digits, no "+", spaces or dashes')));
/** GetWhatsappHealthStatus's PhoneNumber: the whole number, country code first (seed example 86138***), E.164 digits. */
export const FullPhoneNumber = field(() =>
  requiredString().check(
    z.regex(/^[1-9]\d{1,14}$/, 'must be the phone number with its country code first: at most 15 digits (E.164), no "+", spaces or dashes'),
  ),
);
export const TemplateCode = field(() => requiredString().check(z.regex(/^[A-Za-z0-9_-]{1,128}$/, 'must be 1-128 letters, digits, _ or -')));
/**
 * WhatsApp template language codes: a language (`en`, `fil`) or a language and region (`en_US`,
 * `zh_CN`, `pt_BR`). Checked by shape, not against Meta's list, which grows.
 */
export const Language = field(() =>
  requiredString().check(z.regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must be a WhatsApp template language code such as en, fil, en_US or zh_CN')),
);
export const NodeType = field(() =>
  z.enum(['waba', 'phone', 'template'], {
    error: (iss) => (iss.input === undefined ? 'is required' : 'must be one of waba, phone, template'),
  }),
);

/** E.164 allows at most 15 digits for country code + national number together. */
export function e164Problem(cc: string, phone: string): string | undefined {
  return cc.length + phone.length > 15 ? `Cc + PhoneNumber is ${cc.length + phone.length} digits; E.164 allows at most 15` : undefined;
}

/**
 * WhatsApp display-name rules (Meta's display name guidelines) that can be checked mechanically:
 * 3-512 characters, no leading/trailing or doubled spaces, no emoji, no symbols beyond ordinary
 * punctuation, no repeated punctuation ("!!"), not all capitals (short acronyms like "IBM" pass),
 * no URL, and not the word "WhatsApp". Returns the first rule broken.
 */
export function verifiedNameProblem(name: string): string | undefined {
  // The regular expressions are literals here, not module constants: V8 parses a literal when it is
  // first evaluated, and the Unicode property classes (\p{L}, emoji) cost ~4 ms of ICU work on first
  // use. A name of printable ASCII (most of them) takes the ASCII classes instead, which say the same
  // for such a name: no emoji, \p{L} is A-Za-z, \p{N} is 0-9, \p{M} is empty, \p{Lu}/\p{Ll} are A-Z/a-z
  // (test/shared/validation/cams-fields.test.ts checks both paths agree).
  // ’ is written \u2019: one non-ASCII character makes V8 hold a whole bundle as a two-byte string,
  // twice the memory at every cold start (the build refuses such a bundle).
  const ascii = /^[ -~]*$/.test(name);
  const length = [...name].length;
  if (length < 3) return 'must be at least 3 characters';
  if (length > 512) return 'must be at most 512 characters';
  if (name !== name.trim()) return 'must not start or end with spaces';
  if (/\s{2,}/.test(name)) return 'must not contain repeated spaces';
  if (!ascii && /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u{FE0F}/u.test(name)) return 'must not contain emoji';
  if (/(https?:\/\/|www\.|\.(com|net|org|io|co|cn|info|biz|shop|app)\b)/i.test(name)) return 'must not contain a URL or web address';
  if (/whats\s*app/i.test(name)) return 'must not contain "WhatsApp"';
  const allowed = ascii ? /^[A-Za-z0-9 .,&'()\-/+!?:]+$/.test(name) : /^[\p{L}\p{M}\p{N} .,&'\u2019()\-/+!?:]+$/u.test(name);
  if (!allowed) return 'may contain only letters, digits, spaces and . , & \' ( ) - / + ! ? :';
  if (/([.,&'\u2019()\-/+!?:])\1/u.test(name)) return 'must not repeat punctuation (e.g. "!!" or "..")';
  const letters = ascii ? name.replace(/[^A-Za-z]/g, '') : name.replace(/[^\p{L}]/gu, '');
  const cased = ascii ? letters : name.replace(/[^\p{Lu}\p{Ll}]/gu, '');
  if (cased.length > 5 && cased === cased.toUpperCase() && letters.length > 5) return 'must not be in all capitals (acronyms of up to 5 letters are fine)';
  return undefined;
}

export const VerifiedName = field(() =>
  requiredString().check(
    z.refine((v) => verifiedNameProblem(v) === undefined, { error: (iss) => verifiedNameProblem(String(iss.input)) ?? 'is invalid' }),
  ),
);
