/**
 * The schema kit every function validates with: the subset of zod/mini's API this code uses, with
 * zod/mini's semantics (same issues, paths, messages and output), in one small module.
 *
 * Why not zod/mini itself: it ships in every function bundle, and its start-up (the module's class
 * set-up, then building and first running the schemas) was ≈ 3.6 ms of CPU in a 40 ms cold start of
 * bind-waba — half of what separated the function from a hand-written floor (`npm run bench --
 * function-cold-start`, README "Cold start"). This kit is plain classes and closures; no code is
 * generated at run time (zod's JIT `new Function` is never cached by V8's code cache either).
 * test/shared/validation/schema.test.ts runs every schema shape used here through zod/mini and
 * through this kit side by side on generated inputs and requires the same result, so the kit can
 * only be exactly as strict as zod was. The local tools (local/) still use zod.
 *
 * Semantics kept from zod 4 (core/schemas.js, checks.js):
 * - a type issue stops that schema's checks; a failed check does not stop the next one, except that
 *   refinements (refine, superRefine) do not run once a non-continuable issue is there;
 *   length checks run whenever the value has a length;
 * - an object reports its properties' issues under their key, a missing required key through the
 *   property's own issue (so `requiredString` says "is required"), unknown keys of a strict object
 *   as one continuable `unrecognized_keys` issue;
 * - a pipe stops at the first issue of its input side (unknown keys excepted);
 * - a message is the issue's own, else the raising check's or schema's `error`, else the error of the
 *   schema that owns the check, else "Invalid input" (zod/mini loads no locale).
 */

/** An issue as checks and schemas raise it; `finalize` turns it into what callers read. */
export interface RawIssue {
  code: string;
  path?: PropertyKey[];
  message?: string;
  input?: unknown;
  /** true: later checks still run. Absent or false: the value is broken (zod's "abort"). */
  continue?: boolean;
  /** The check or schema that raised it (its `error` names it). */
  inst?: { error?: ErrorMap | undefined } | undefined;
  /** The schema whose check raised it. */
  schema?: { error?: ErrorMap | undefined } | undefined;
  [extra: string]: unknown;
}

/** What a failed parse reports, per problem. */
export interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  /** `unrecognized_keys`: the keys a strict object does not know. */
  keys?: string[];
  [extra: string]: unknown;
}

export type ErrorMap = (issue: RawIssue) => string | { message: string } | undefined;
export type Params = string | { error?: string | ErrorMap; message?: string; path?: PropertyKey[]; abort?: boolean };

/** The value being parsed and the issues so far; also the `ctx` of superRefine and transform. */
export interface Payload {
  value: unknown;
  issues: RawIssue[];
  aborted?: boolean;
}

export class SchemaError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => `${i.path.map(String).join('.') || '(value)'}: ${i.message}`).join('; '));
    this.name = 'SchemaError';
  }
}

export type SafeParseResult<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: SchemaError };

function normalizeParams(params: Params | undefined): { error?: ErrorMap; path?: PropertyKey[]; abort?: boolean } {
  if (params === undefined) return {};
  if (typeof params === 'string') return { error: () => params };
  const { message, error, ...rest } = params;
  const e = error ?? message;
  return { ...rest, ...(e === undefined ? {} : { error: typeof e === 'string' ? () => e : e }) };
}

const unwrap = (m: string | { message: string } | undefined): string | undefined => (typeof m === 'string' ? m : m?.message);

function finalize(iss: RawIssue): Issue {
  const message =
    iss.message ?? unwrap(iss.inst?.error?.(iss)) ?? (iss.schema !== iss.inst ? unwrap(iss.schema?.error?.(iss)) : undefined) ?? 'Invalid input';
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(iss)) if (k !== 'inst' && k !== 'schema' && k !== 'continue' && k !== 'input' && k !== '__proto__') out[k] = iss[k];
  out['path'] ??= [];
  out['message'] = message;
  return out as Issue;
}

function aborted(p: Payload, from = 0): boolean {
  if (p.aborted === true) return true;
  for (let i = from; i < p.issues.length; i++) if (p.issues[i]!.continue !== true) return true;
  return false;
}

function explicitlyAborted(p: Payload): boolean {
  return p.aborted === true || p.issues.some((i) => i.continue === false);
}

function prefixIssues(key: PropertyKey, issues: RawIssue[]): RawIssue[] {
  for (const iss of issues) (iss.path ??= []).unshift(key);
  return issues;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------- checks

export interface Check<in T = never> {
  readonly error?: ErrorMap | undefined;
  /** When present, the check runs on this condition even after a type issue (zod's `when`). */
  readonly when?: (p: Payload) => boolean;
  run(p: Payload): void;
  /** Phantom: which values the check applies to. */
  readonly _in?: (value: T) => void;
}

const hasLength = (p: Payload) => p.value !== null && p.value !== undefined && (p.value as { length?: unknown }).length !== undefined;
const lengthOrigin = (v: unknown) => (Array.isArray(v) ? 'array' : typeof v === 'string' ? 'string' : 'unknown');
/** Strings are measured in code points, as zod does (a surrogate pair is one). */
function lengthOf(v: { length: number }): number {
  if (typeof v !== 'string') return v.length;
  let n = v.length;
  for (let i = 0; i < v.length - 1; i++) {
    if ((v.charCodeAt(i) & 0xfc00) === 0xd800 && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n;
}

export function regex(pattern: RegExp, params?: Params): Check<string> {
  const { error, abort } = normalizeParams(params);
  const check: Check<string> = {
    error,
    run(p) {
      pattern.lastIndex = 0;
      if (pattern.test(p.value as string)) return;
      p.issues.push({ origin: 'string', code: 'invalid_format', format: 'regex', input: p.value, pattern: pattern.toString(), inst: check, continue: !abort });
    },
  };
  return check;
}

/** A length bound (zod's too_big / too_small), in code points for strings. */
function lengthCheck(bound: 'maximum' | 'minimum', limit: number, params: Params | undefined): Check<string | readonly unknown[]> {
  const { error, abort } = normalizeParams(params);
  const code = bound === 'maximum' ? 'too_big' : 'too_small';
  const check: Check<string | readonly unknown[]> = {
    error,
    when: hasLength,
    run(p) {
      const v = p.value as string;
      const n = lengthOf(v);
      if (bound === 'maximum' ? n <= limit : n >= limit) return;
      p.issues.push({ origin: lengthOrigin(v), code, [bound]: limit, inclusive: true, input: v, inst: check, continue: !abort });
    },
  };
  return check;
}

export const maxLength = (maximum: number, params?: Params): Check<string | readonly unknown[]> => lengthCheck('maximum', maximum, params);
export const minLength = (minimum: number, params?: Params): Check<string | readonly unknown[]> => lengthCheck('minimum', minimum, params);

export function refine<T>(fn: (value: T) => unknown, params?: Params): Check<T> {
  const { error, abort, path } = normalizeParams(params);
  const check: Check<T> = {
    error,
    run(p) {
      if (fn(p.value as T)) return;
      p.issues.push({ code: 'custom', input: p.value, inst: check, path: [...(path ?? [])], continue: !abort });
    },
  };
  return check;
}

/**
 * `fn` reports problems by pushing onto `ctx.issues` (each with its message and path). With `when`,
 * it also runs after another issue, whenever `when` holds (zod's superRefine params).
 */
export function superRefine<T>(fn: (value: T, ctx: Payload) => void, params?: { when?: (p: Payload) => boolean }): Check<T> {
  const run = (p: Payload) => fn(p.value as T, p);
  return params?.when ? { when: params.when, run } : { run };
}

/** Replaces a string with its trimmed self before the checks after it. */
export function trim(): Check<string> {
  return {
    run(p) {
      p.value = (p.value as string).trim();
    },
  };
}

function runChecks(p: Payload, checks: readonly Check<never>[], owner: { readonly error?: ErrorMap | undefined }): Payload {
  let isAborted = aborted(p);
  for (const ch of checks) {
    if (ch.when) {
      if (explicitlyAborted(p) || !ch.when(p)) continue;
    } else if (isAborted) continue;
    const before = p.issues.length;
    ch.run(p);
    if (p.issues.length === before) continue;
    for (let i = before; i < p.issues.length; i++) p.issues[i]!.schema ??= owner;
    if (!isAborted) isAborted = aborted(p, before);
  }
  return p;
}

// ---------------------------------------------------------------- schemas

type Presence = 'optional' | 'defaulted' | undefined;

export abstract class Schema<T, In = unknown> {
  /** Phantom: the parsed value's type. */
  declare readonly _output: T;
  /** Phantom: what the schema takes (a transform's input, so a pipe can type it). */
  declare readonly _input?: (value: In) => void;
  /** Whether a missing key is allowed (optional) or filled in (defaulted), as zod's optin. */
  readonly optin: Presence = undefined;
  /** Whether the output may be missing, as zod's optout. */
  readonly optout: 'optional' | undefined = undefined;
  checks: readonly Check<never>[] = [];

  constructor(readonly error: ErrorMap | undefined) {}

  protected abstract parseValue(p: Payload): Payload;

  run(p: Payload): Payload {
    const r = this.parseValue(p);
    return this.checks.length ? runChecks(r, this.checks, this) : r;
  }

  /** A copy of this schema with more checks after its own. */
  check(...checks: Check<T>[]): this {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(this) as object) as this, this);
    copy.checks = [...this.checks, ...(checks as Check<never>[])];
    return copy;
  }

  safeParse(value: unknown): SafeParseResult<T> {
    const r = this.run({ value, issues: [] });
    return r.issues.length ? { success: false, error: new SchemaError(r.issues.map(finalize)) } : { success: true, data: r.value as T };
  }

  parse(value: unknown): T {
    const r = this.safeParse(value);
    if (!r.success) throw r.error;
    return r.data;
  }
}

export type Output<S> = S extends Schema<infer T, never> ? T : never;
export type { Output as infer };

class TypeOf<T> extends Schema<T> {
  constructor(
    private readonly expected: string,
    private readonly accepts: (v: unknown) => boolean,
    error: ErrorMap | undefined,
  ) {
    super(error);
  }

  protected parseValue(p: Payload): Payload {
    const v = p.value;
    if (this.accepts(v)) return p;
    // zod says which non-finite number it got
    const received = this.expected === 'number' && typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : String(v)) : undefined;
    p.issues.push({ expected: this.expected, code: 'invalid_type', input: v, inst: this, ...(received === undefined ? {} : { received }) });
    return p;
  }
}

export const string = (params?: Params): Schema<string> => new TypeOf('string', (v) => typeof v === 'string', normalizeParams(params).error);
export const number = (params?: Params): Schema<number> => new TypeOf('number', (v) => typeof v === 'number' && Number.isFinite(v), normalizeParams(params).error);
export const boolean = (params?: Params): Schema<boolean> => new TypeOf('boolean', (v) => typeof v === 'boolean', normalizeParams(params).error);
export const unknown = (): Schema<unknown> => new TypeOf('unknown', () => true, undefined);

class OneOf<T> extends Schema<T> {
  constructor(
    private readonly values: readonly T[],
    error: ErrorMap | undefined,
  ) {
    super(error);
  }

  protected parseValue(p: Payload): Payload {
    if (!this.values.includes(p.value as T)) p.issues.push({ code: 'invalid_value', values: [...this.values], input: p.value, inst: this });
    return p;
  }
}

function enumOf<const V extends readonly string[]>(values: V, params?: Params): Schema<V[number]> {
  return new OneOf(values, normalizeParams(params).error);
}
export { enumOf as enum };

export const literal = <const V extends string | number | boolean>(value: V, params?: Params): Schema<V> => new OneOf([value], normalizeParams(params).error);

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]['optout'] extends 'optional' ? K : never }[keyof S];
type ObjectOutput<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Output<S[K]> } & { [K in OptionalKeys<S>]?: Output<S[K]> };
type Flat<T> = { [K in keyof T]: T[K] } & {};

class ObjectSchema<T> extends Schema<T> {
  private readonly keys: string[];
  private readonly keySet: Set<string>;

  constructor(
    readonly shape: Shape,
    private readonly unknownKeys: 'strict' | 'loose',
    error: ErrorMap | undefined,
  ) {
    super(error);
    this.keys = Object.keys(shape);
    this.keySet = new Set(this.keys);
  }

  protected parseValue(p: Payload): Payload {
    const input = p.value;
    if (!isObject(input)) {
      p.issues.push({ expected: 'object', code: 'invalid_type', input, inst: this });
      return p;
    }
    const out: Record<string, unknown> = {};
    p.value = out;
    for (const key of this.keys) {
      if (key === '__proto__') continue;
      const el = this.shape[key]!;
      property(el.run({ value: input[key], issues: [] }), p, out, key, input, el);
    }
    const unrecognized: string[] = [];
    for (const key in input) {
      if (this.keySet.has(key)) continue;
      if (this.unknownKeys === 'strict') unrecognized.push(key);
      else if (key !== '__proto__') out[key] = input[key];
    }
    if (unrecognized.length) p.issues.push({ code: 'unrecognized_keys', keys: unrecognized, input, inst: this, continue: true });
    return p;
  }
}

/** One property's result into the object's (zod's handlePropertyResult). */
function property(r: Payload, p: Payload, out: Record<string, unknown>, key: string, input: Record<string, unknown>, el: Schema<unknown>): void {
  const present = key in input;
  const optionalOut = el.optout === 'optional';
  if (!present && optionalOut && el.optin === 'optional') return;
  if (r.issues.length) {
    if (el.optin !== undefined && optionalOut && !present) return;
    p.issues.push(...prefixIssues(key, r.issues));
  }
  if (!present && el.optin === undefined) {
    if (!r.issues.length) p.issues.push({ code: 'invalid_type', expected: 'nonoptional', input: undefined, path: [key] });
    return;
  }
  if (r.value === undefined) {
    if (present || (el.optin === 'defaulted' && !optionalOut)) out[key] = undefined;
  } else out[key] = r.value;
}

/** An object whose every key must be in `shape`: others are an `unrecognized_keys` issue. */
export const strictObject = <S extends Shape>(shape: S, params?: Params): Schema<Flat<ObjectOutput<S>>> => new ObjectSchema(shape, 'strict', normalizeParams(params).error);
/** An object checked on the keys of `shape`; other keys pass through as they are. */
export const looseObject = <S extends Shape>(shape: S, params?: Params): Schema<Flat<ObjectOutput<S>> & Record<string, unknown>> =>
  new ObjectSchema(shape, 'loose', normalizeParams(params).error);

class ArraySchema<T> extends Schema<T[]> {
  constructor(
    private readonly element: Schema<T>,
    error: ErrorMap | undefined,
  ) {
    super(error);
  }

  protected parseValue(p: Payload): Payload {
    const input = p.value;
    if (!Array.isArray(input)) {
      p.issues.push({ expected: 'array', code: 'invalid_type', input, inst: this });
      return p;
    }
    const out: unknown[] = Array(input.length);
    p.value = out;
    for (let i = 0; i < input.length; i++) {
      const r = this.element.run({ value: input[i], issues: [] });
      if (r.issues.length) p.issues.push(...prefixIssues(i, r.issues));
      out[i] = r.value;
    }
    return p;
  }
}

export const array = <T>(element: Schema<T>, params?: Params): Schema<T[]> => new ArraySchema(element, normalizeParams(params).error);

class RecordSchema<V> extends Schema<Record<string, V>> {
  constructor(
    private readonly keyType: Schema<string>,
    private readonly valueType: Schema<V>,
    error: ErrorMap | undefined,
  ) {
    super(error);
  }

  protected parseValue(p: Payload): Payload {
    const input = p.value;
    const proto: unknown = isObject(input) ? Object.getPrototypeOf(input) : undefined;
    if (!isObject(input) || (proto !== null && proto !== Object.prototype)) {
      p.issues.push({ expected: 'record', code: 'invalid_type', input, inst: this });
      return p;
    }
    const out: Record<string, unknown> = {};
    p.value = out;
    for (const key of Reflect.ownKeys(input)) {
      if (key === '__proto__' || !Object.prototype.propertyIsEnumerable.call(input, key)) continue;
      const k = this.keyType.run({ value: key, issues: [] });
      if (k.issues.length) {
        p.issues.push({ code: 'invalid_key', origin: 'record', issues: k.issues.map(finalize), input: key, path: [key], inst: this });
        continue;
      }
      const r = this.valueType.run({ value: input[key as string], issues: [] });
      if (r.issues.length) p.issues.push(...prefixIssues(key, r.issues));
      out[k.value as string] = r.value;
    }
    return p;
  }
}

export const record = <V>(keyType: Schema<string>, valueType: Schema<V>, params?: Params): Schema<Record<string, V>> =>
  new RecordSchema(keyType, valueType, normalizeParams(params).error);

class OptionalSchema<T> extends Schema<T | undefined> {
  override readonly optout = 'optional' as const;
  override readonly optin: Presence;

  constructor(private readonly inner: Schema<T>) {
    super(undefined);
    this.optin = inner.optin === 'defaulted' ? 'defaulted' : 'optional';
  }

  protected parseValue(p: Payload): Payload {
    if (p.value !== undefined) return this.inner.run(p);
    if (this.inner.optin !== 'defaulted') return p;
    const r = this.inner.run({ value: undefined, issues: [] });
    p.value = r.issues.length ? undefined : r.value;
    return p;
  }
}

/** May be missing (or undefined); otherwise as `inner`. */
export const optional = <T>(inner: Schema<T>): Schema<T | undefined> & { readonly optout: 'optional' } => new OptionalSchema(inner);

class DefaultSchema<T> extends Schema<T> {
  override readonly optin = 'defaulted' as const;

  constructor(
    private readonly inner: Schema<T>,
    private readonly fallback: T,
  ) {
    super(undefined);
  }

  protected parseValue(p: Payload): Payload {
    if (p.value === undefined) {
      p.value = this.fallback;
      return p;
    }
    const r = this.inner.run(p);
    if (r.value === undefined) r.value = this.fallback;
    return r;
  }
}

/** `fallback` when missing (not validated), otherwise as `inner`. */
export const _default = <T>(inner: Schema<T>, fallback: T): Schema<T> => new DefaultSchema(inner, fallback);

class TransformSchema<I, O> extends Schema<O, I> {
  override readonly optin = 'optional' as const;

  constructor(private readonly fn: (value: I, ctx: Payload) => O) {
    super(undefined);
  }

  protected parseValue(p: Payload): Payload {
    p.value = this.fn(p.value as I, p);
    return p;
  }
}

/** Maps the value; `ctx.issues.push` reports a problem. */
export const transform = <I, O>(fn: (value: I, ctx: Payload) => O): Schema<O, I> => new TransformSchema(fn);

class PipeSchema<O> extends Schema<O> {
  override readonly optin: Presence;
  override readonly optout: 'optional' | undefined;

  constructor(
    private readonly from: Schema<unknown>,
    private readonly to: Schema<O>,
  ) {
    super(undefined);
    this.optin = from.optin;
    this.optout = to.optout;
  }

  protected parseValue(p: Payload): Payload {
    const left = this.from.run(p);
    if (left.issues.some((i) => i.code !== 'unrecognized_keys')) {
      left.aborted = true;
      return left;
    }
    return this.to.run({ value: left.value, issues: left.issues });
  }
}

/** `from`, then `to` on its output; `to` does not run when `from` found a problem. */
export const pipe = <A, O>(from: Schema<A>, to: Schema<O, A>): Schema<O> => new PipeSchema(from as Schema<unknown>, to as Schema<O>);

export const safeParse = <T>(schema: Schema<T>, value: unknown): SafeParseResult<T> => schema.safeParse(value);
