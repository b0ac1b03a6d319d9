/** The HTTP events of serverless.yml as one routing table: method + path (with `{param}` segments). */
import { allowedMethods } from '../../shared/http-fn/middlewares.ts';

export interface HostRoute {
  method: string;
  path: string;
  functionName: string;
}

interface CompiledRoute extends HostRoute {
  segments: Array<{ literal: string } | { param: string }>;
}

export type RouteMatch =
  | { kind: 'found'; route: HostRoute; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

export class RouteTable {
  private readonly routes: CompiledRoute[] = [];

  /** Throws when two functions claim the same method and path. */
  add(route: HostRoute): void {
    const segments = splitPath(route.path).map((seg) => {
      const m = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(seg);
      return m ? { param: m[1]! } : { literal: seg };
    });
    const shape = (r: CompiledRoute['segments']) => r.map((s) => ('param' in s ? '{}' : s.literal)).join('/');
    const clash = this.routes.find((r) => r.method === route.method && shape(r.segments) === shape(segments));
    if (clash) {
      throw new Error(`serverless.yml: ${route.method} ${route.path} is served by both ${clash.functionName} and ${route.functionName}`);
    }
    this.routes.push({ ...route, segments });
  }

  list(): HostRoute[] {
    return this.routes.map(({ method, path, functionName }) => ({ method, path, functionName }));
  }

  /**
   * Matches the raw (URL-encoded) path segment by segment; literal segments win over parameters. A
   * segment that is not valid URL encoding (`/silences/%E9`) can only be a parameter: the function
   * names it (400 InvalidParameter, README "Validation"), with any method, as on FC, where its
   * trigger passes it on.
   */
  match(method: string, rawPath: string): RouteMatch {
    const parts = splitPath(rawPath).map((raw) => ({ raw, decoded: decodeSegment(raw) }));
    const candidates = this.routes
      .map((r) => ({ r, params: matchSegments(r.segments, parts) }))
      .filter((c): c is { r: CompiledRoute; params: Record<string, string> } => c.params !== undefined)
      .sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length);
    if (candidates.length === 0) return { kind: 'not-found' };
    const wanted = method.toUpperCase();
    // HEAD is served by the GET route (the functions answer it without the body), as FC 3.0's trigger does.
    const hit = candidates.find((c) => c.r.method === wanted) ?? (wanted === 'HEAD' ? candidates.find((c) => c.r.method === 'GET') : undefined);
    // A parameter that does not decode is named by the function whatever the method (400 before 405,
    // shared/http-fn/middlewares.ts), so the host passes such a request on rather than answer 405.
    const undecodable = parts.some((p) => p.decoded === undefined);
    const passOn = !hit && undecodable ? candidates[0] : undefined;
    if (passOn) return { kind: 'found', route: { method: passOn.r.method, path: passOn.r.path, functionName: passOn.r.functionName }, params: passOn.params };
    if (!hit) return { kind: 'method-not-allowed', allow: allowedMethods(candidates.map((c) => c.r)) };
    const { method: m, path, functionName } = hit.r;
    return { kind: 'found', route: { method: m, path, functionName }, params: hit.params };
  }
}

/** `/a/b/` and `/a/b` are the same route (the functions accept a trailing slash). */
function splitPath(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1);
}

function decodeSegment(seg: string): string | undefined {
  try {
    return decodeURIComponent(seg);
  } catch {
    return undefined;
  }
}

/** A parameter's value is the decoded segment, or the raw one when it does not decode (the function refuses it). */
function matchSegments(segments: CompiledRoute['segments'], parts: ReadonlyArray<{ raw: string; decoded: string | undefined }>): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, seg] of segments.entries()) {
    const { raw, decoded } = parts[i]!;
    if ('literal' in seg) {
      if (seg.literal !== decoded) return undefined;
    } else {
      if (raw === '') return undefined;
      params[seg.param] = decoded ?? raw;
    }
  }
  return params;
}
