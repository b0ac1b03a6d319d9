import type * as z from '../validation/schema.ts';
import { HttpError, validationCode, type FieldProblem } from './errors.ts';
import { nullProtoMap, type HttpRequest } from './event.ts';
import { repeatedJsonKey } from '../text/json-keys.ts';

/**
 * Names that reach Object's machinery rather than data (prototype pollution, mangled lookups).
 * They are never parameters, so they are refused by name wherever a key can appear.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function refuseReserved(key: string, field: string): void {
  if (RESERVED_KEYS.has(key)) {
    throw new HttpError(400, 'InvalidParameter', `${field}: a reserved name, not a parameter`, {
      fields: [{ Field: field, Message: 'is a reserved name, not a parameter' }],
    });
  }
}

/**
 * The request's params in CAMS wire names: query string, path parameters and a JSON or form body,
 * merged. A name given twice with different values is refused rather than silently picking one.
 */
export function collectParams(req: HttpRequest): Record<string, unknown> {
  const params = nullProtoMap<unknown>();
  const add = (source: Record<string, unknown>, where: string) => {
    for (const [k, v] of Object.entries(source)) {
      refuseReserved(k, k);
      if (k in params && params[k] !== v) {
        throw new HttpError(400, 'InvalidParameter', `${k} is given twice (also in the ${where}) with different values`, {
          fields: [{ Field: k, Message: 'given twice with different values' }],
        });
      }
      params[k] = v;
    }
  };
  add(req.query, 'query');
  add(req.pathParameters, 'path');
  if (req.body.length > 0) add(parseBody(req), 'body');
  return params;
}

/** Refuses bytes that are not UTF-8; a leading byte order mark is dropped (the signature covered it). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** As UTF8, but a byte order mark is kept: a form component's is part of its value, as URLSearchParams reads it. */
const UTF8_WITH_BOM = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function notUtf8(field: string): HttpError {
  const message = 'is not valid UTF-8: JSON and form bodies are read as UTF-8';
  return new HttpError(400, 'InvalidParameter', `${field}: ${message}`, { fields: [{ Field: field, Message: message }] });
}

function parseBody(req: HttpRequest): Record<string, unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // Decoded strictly: a lenient decoder would put U+FFFD in place of a Latin-1 `é`, and a Comment
  // or a name would be stored so, accepted without a word.
  let text: string;
  try {
    text = UTF8.decode(req.body);
  } catch {
    throw notUtf8('(body)');
  }
  if (type === 'application/json' || type.endsWith('+json') || (type === '' && /^\s*\{/.test(text))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'InvalidParameter', '(body): is not valid JSON', { fields: [{ Field: '(body)', Message: 'is not valid JSON' }] });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      // Named as cams-events names it: a client that shows Fields has something to show.
      throw new HttpError(400, 'InvalidParameter', '(body): must be a JSON object of parameters', {
        fields: [{ Field: '(body)', Message: 'must be a JSON object of parameters' }],
      });
    }
    // JSON.parse keeps "__proto__" as an own key; refuse it (and its kin) at any depth.
    refuseReservedKeysDeep(parsed);
    // JSON.parse keeps the last of a repeated key silently; refused as in a form body.
    const repeated = repeatedJsonKey(text);
    if (repeated !== undefined) {
      throw new HttpError(400, 'InvalidParameter', `${repeated} is given more than once in the JSON body`, {
        fields: [{ Field: repeated, Message: 'given more than once' }],
      });
    }
    const out = nullProtoMap<unknown>();
    for (const [k, v] of Object.entries(parsed)) {
      // IDs written as JSON numbers are accepted only while they are exact.
      out[k] = typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? String(v) : v;
    }
    return out;
  }
  if (type === 'application/x-www-form-urlencoded') return parseForm(text);
  throw new HttpError(415, 'UnsupportedMediaType', `content-type ${type || '(none)'} is not supported: send application/json or application/x-www-form-urlencoded`);
}

/** A form body; a key given twice is refused, as no single value could be bound without guessing. */
function parseForm(text: string): Record<string, string> {
  const out = nullProtoMap<string>();
  for (const [k, v] of new URLSearchParams(text)) {
    // URLSearchParams reads percent-escapes that are not UTF-8 (`%E9`) as U+FFFD.
    if (k.includes('\uFFFD') || v.includes('\uFFFD')) refuseNonUtf8Escapes(text);
    refuseReserved(k, k);
    if (k in out) {
      throw new HttpError(400, 'InvalidParameter', `${k} is given more than once in the form body`, {
        fields: [{ Field: k, Message: 'given more than once' }],
      });
    }
    out[k] = v;
  }
  return out;
}

/**
 * A form component's bytes (`+` a space, `%XX` a byte, a `%` without two hex digits after it kept
 * as is, as URLSearchParams reads them) as UTF-8, or undefined when they are not UTF-8.
 */
function formComponent(raw: string): string | undefined {
  const bytes = Buffer.from(raw.replaceAll('+', ' '), 'utf8');
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  const hex = (b: number | undefined) => b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] === 0x25 /* % */ && hex(bytes[i + 1]) && hex(bytes[i + 2])) {
      out[n++] = Number.parseInt(String.fromCharCode(bytes[i + 1]!, bytes[i + 2]!), 16);
      i += 2;
    } else out[n++] = bytes[i]!;
  }
  try {
    return UTF8_WITH_BOM.decode(out.subarray(0, n));
  } catch {
    return undefined;
  }
}

/** Refuses, by its name (as URLSearchParams reads it), the first form pair whose escapes are not UTF-8. */
function refuseNonUtf8Escapes(text: string): void {
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [rawName, rawValue] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    if (formComponent(rawName) === undefined || formComponent(rawValue) === undefined) throw notUtf8([...new URLSearchParams(pair).keys()][0]!);
  }
}

/** Walks the parsed JSON without recursion (nesting depth is the caller's choice). */
function refuseReservedKeysDeep(root: object): void {
  const stack: Array<{ value: object; path: string }> = [{ value: root, path: '' }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    for (const [k, v] of Object.entries(item.value)) {
      const path = item.path ? `${item.path}.${k}` : k;
      if (!Array.isArray(item.value)) refuseReserved(k, path);
      if (typeof v === 'object' && v !== null) stack.push({ value: v as object, path });
    }
  }
}

/** Validates params against a zod/mini schema; every problem names its field. */
export function validateParams<T>(schema: z.Schema<T>, params: Record<string, unknown>): T {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const fields: FieldProblem[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      // Inside a list or object, the key's full path (Templates.0.Colour), as for every other problem.
      const at = issue.path.map(String);
      for (const key of issue.keys ?? []) fields.push({ Field: [...at, key].join('.'), Message: at.length ? 'is not a field here' : 'is not a parameter of this operation' });
    } else {
      fields.push({ Field: issue.path.length ? issue.path.map(String).join('.') : '(params)', Message: issue.message });
    }
  }
  throw new HttpError(400, validationCode(fields), fields.map((f) => `${f.Field}: ${f.Message}`).join('; '), { fields });
}
