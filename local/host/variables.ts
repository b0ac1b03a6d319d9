/**
 * Serverless Framework v3 variables, for the forms serverless.yml uses:
 *   ${env:NAME}  ${env:NAME, 'default'}  ${opt:stage, 'dev'}  ${sls:stage}  ${self:a.b.c}
 * with any number of fallbacks (a quoted string, a number, true/false, another `source:address`
 * or a nested `${...}`), variables inside longer strings, and nested variables. As in v3, a source
 * that has no value (an unset env var) falls through to the next fallback; an empty string is a value.
 * Other sources (file, ssm, cf, s3, aws) are refused with a message naming the property.
 */

export interface VariableSources {
  env: Record<string, string | undefined>;
  /** CLI options (`--stage`): `opt:` and `sls:stage` read them. */
  options: Record<string, string | undefined>;
}

export class VariableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VariableError';
  }
}

type Json = unknown;

const MAX_DEPTH = 32;

/** Resolves every variable in the document; returns a new document. */
export function resolveVariables(doc: Json, sources: VariableSources): Json {
  const resolver = new Resolver(doc, sources);
  return resolver.resolveAt([], 0);
}

class Resolver {
  /** Properties being resolved right now (cycle detection for ${self:...}). */
  private readonly active = new Set<string>();

  constructor(
    private readonly doc: Json,
    private readonly sources: VariableSources,
  ) {}

  /** The fully resolved value of the property at `path`. */
  resolveAt(path: string[], depth: number): Json {
    const key = path.join('.');
    if (this.active.has(key)) throw new VariableError(`circular variable reference at "${key || '(root)'}"`);
    if (depth > MAX_DEPTH) throw new VariableError(`variables nested too deep at "${key}"`);
    this.active.add(key);
    try {
      const raw = lookup(this.doc, path);
      return this.resolveValue(raw, path, depth);
    } finally {
      this.active.delete(key);
    }
  }

  private resolveValue(value: Json, path: string[], depth: number): Json {
    if (typeof value === 'string') return this.resolveString(value, path, depth);
    if (Array.isArray(value)) return value.map((v, i) => this.resolveAtChild(path, String(i), v, depth));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, Json> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.resolveAtChild(path, k, v, depth);
      return out;
    }
    return value;
  }

  private resolveAtChild(path: string[], key: string, value: Json, depth: number): Json {
    const child = [...path, key];
    if (typeof value === 'string' && value.includes('${')) return this.resolveAt(child, depth + 1);
    return this.resolveValue(value, child, depth + 1);
  }

  /** A string with zero or more variables; a string that is exactly one variable keeps the value's type. */
  private resolveString(s: string, path: string[], depth: number): Json {
    const parts = splitVariables(s, path);
    if (parts.length === 1 && typeof parts[0] !== 'string') return this.evaluate(parts[0]!.expr, path, depth);
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const v = this.evaluate(part.expr, path, depth);
      if (v !== null && typeof v === 'object') {
        throw new VariableError(`${where(path)}: "\${${part.expr}}" resolves to an object and cannot be part of a string`);
      }
      out += String(v);
    }
    return out;
  }

  /** `source:address, fallback, ...` → the first value found. */
  private evaluate(expr: string, path: string[], depth: number): Json {
    const params = splitTopLevel(expr, ',', path).map((p) => p.trim());
    const first = params[0] ?? '';
    for (const param of params) {
      const v = this.evaluateParam(param, path, depth);
      if (v !== null && v !== undefined) return v;
    }
    const m = /^([a-zA-Z]+)(?:\(|:)/.exec(first);
    throw new VariableError(
      `${where(path)}: cannot resolve variable "\${${expr}}": value not found at "${m?.[1] ?? first}" source and no fallback`,
    );
  }

  private evaluateParam(param: string, path: string[], depth: number): Json {
    if (param === '') throw new VariableError(`${where(path)}: empty variable parameter`);
    if (param.startsWith('${')) return this.resolveString(param, path, depth + 1);
    const quoted = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(param);
    if (quoted) return (quoted[1] ?? quoted[2] ?? '').replace(/\\(.)/g, '$1');
    if (/^-?\d+(\.\d+)?$/.test(param)) return Number(param);
    if (param === 'true' || param === 'false') return param === 'true';
    if (param === 'null') return null;
    const m = /^([a-zA-Z][a-zA-Z0-9]*):(.*)$/s.exec(param);
    if (!m) throw new VariableError(`${where(path)}: unsupported variable parameter "${param}" (quote string literals)`);
    const source = m[1]!;
    const address = resolveNested(m[2]!.trim(), (inner) => this.resolveString(inner, path, depth + 1));
    switch (source) {
      case 'env': {
        if (!address) throw new VariableError(`${where(path)}: missing address in variable "env" source`);
        const v = this.sources.env[address];
        return v === undefined || v === null ? null : v;
      }
      case 'opt': {
        const v = address ? this.sources.options[address] : undefined;
        return v === undefined ? null : v;
      }
      case 'self':
        return this.resolveAt(address ? address.split('.') : [], depth + 1) ?? null;
      case 'sls':
        if (address === 'stage') return this.stage(depth);
        if (address === 'instanceId') return 'local';
        throw new VariableError(`${where(path)}: unsupported "${address}" address in variable "sls" source`);
      default:
        throw new VariableError(`${where(path)}: variable source "${source}" is not supported by the local host`);
    }
  }

  /** As serverless v3: --stage, else provider.stage, else dev. */
  private stage(depth: number): Json {
    const opt = this.sources.options['stage'];
    if (opt) return opt;
    const fromConfig = this.resolveAt(['provider', 'stage'], depth + 1);
    return fromConfig === null || fromConfig === undefined || fromConfig === '' ? 'dev' : fromConfig;
  }
}

function where(path: string[]): string {
  return `serverless.yml "${path.join('.') || '(root)'}"`;
}

function lookup(doc: Json, path: string[]): Json {
  let cur: Json = doc;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string, Json>)[key];
    if (cur === undefined) return null;
  }
  return cur;
}

/** An address may itself hold a variable: `self:custom.${opt:stage}`. */
function resolveNested(address: string, resolve: (s: string) => Json): string {
  return address.includes('${') ? String(resolve(address)) : address;
}

type Part = string | { expr: string };

/** Splits a string into literal parts and top-level `${...}` variables. */
function splitVariables(s: string, path: string[]): Part[] {
  const parts: Part[] = [];
  let i = 0;
  let literal = '';
  while (i < s.length) {
    if (s[i] === '$' && s[i + 1] === '{') {
      const end = matchingBrace(s, i + 1, path);
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ expr: s.slice(i + 2, end) });
      i = end + 1;
    } else {
      literal += s[i];
      i += 1;
    }
  }
  if (literal || parts.length === 0) parts.push(literal);
  return parts;
}

/** Index of the `}` closing the `{` at `open`, skipping quoted strings and nested braces. */
function matchingBrace(s: string, open: number, path: string[]): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === '\\') i += 1;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '{') depth += 1;
    else if (c === '}') {
      depth -= 1;
      if (depth === 0) return i;
    }
  }
  throw new VariableError(`${where(path)}: unterminated variable in "${s}"`);
}

/** Splits on `sep` outside quotes and nested `${...}`. */
function splitTopLevel(s: string, sep: string, path: string[]): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      cur += c;
    } else if (c === '$' && s[i + 1] === '{') {
      const end = matchingBrace(s, i + 1, path);
      cur += s.slice(i, end + 1);
      i = end;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out;
}
