import type { NodeAttributes } from '../monitor/targets.ts';
import type { ServiceInput } from '../http-fn/http-function.ts';
import type { ServiceResult } from '../http-fn/middlewares.ts';
import { openSharedStore } from '../store/index.ts';
import { withoutOtherTypesFields } from '../validation/health-target.ts';
import { unknownNextToken } from '../validation/page-params.ts';
import type { WatchEntry } from '../watch-list/entry.ts';
import { addWatchEntries, decodeNextToken, DEFAULT_PAGE_SIZE, listWatchPage, removeWatchEntries } from '../watch-list/store.ts';

interface ListParams {
  PageSize?: number;
  NextToken?: string;
  CustSpaceId?: string;
}

/** GET / POST / DELETE /watch-list over the store's watch entries (MONITOR_TARGETS is not in it: that list lives in the monitor's env). */
export function watchListApi() {
  return async function service(input: ServiceInput<unknown>): Promise<ServiceResult> {
    const s = await openSharedStore(input.config.storeUrl);
    const method = input.route.split(' ')[0];
    if (method === 'GET') {
      const p = input.params as ListParams;
      const after = p.NextToken === undefined ? undefined : decodeNextToken(p.NextToken, p.CustSpaceId);
      if (p.NextToken !== undefined && after === undefined) throw unknownNextToken('with the same CustSpaceId as that page (or none, if it had none)');
      const pageSize = p.PageSize ?? DEFAULT_PAGE_SIZE;
      const page = await listWatchPage(s, pageSize, after, p.CustSpaceId);
      return {
        data: {
          Targets: page.entries.map((e) => ({
            Id: e.id,
            // A field of another NodeType an earlier version stored is neither checked nor shown.
            ...withoutOtherTypesFields(e.target),
            ...(e.discover ? { Discover: true } : {}),
            Source: e.source,
            RegisteredAt: e.registeredAt,
            ...(e.discoveredBy ? { DiscoveredBy: e.discoveredBy } : {}),
            ...(e.attributes ? attributesView(e.attributes) : {}),
          })),
          PageSize: pageSize,
          ...(page.nextToken ? { NextToken: page.nextToken } : {}),
        },
      };
    }
    const { Targets } = input.params as { Targets: WatchEntry[] };
    if (method === 'POST') {
      // Ids: per target, the entry that watches its node (a space's WABA in either form is one entry).
      return { data: await addWatchEntries(s, Targets, `api:${input.callerKeyId ?? '?'}`) };
    }
    return { data: await removeWatchEntries(s, Targets) };
  };
}

function attributesView(a: NodeAttributes): Record<string, unknown> {
  const { SeenAt, ...rest } = a;
  return { ...rest, ...(SeenAt !== undefined ? { SeenAt: new Date(SeenAt).toISOString() } : {}) };
}
