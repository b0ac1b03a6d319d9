import { statusPageHtml } from '../../shared/services/status-page.ts';
import { pageFunction } from '../../shared/status-page/page-function.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { StatusPageParams } from './schema.ts';

let store: Promise<Store> | undefined;

/** `GET /status`: the HTML status page (STATUS_PAGE_TOKEN / STATUS_PAGE_PUBLIC decide who sees it). */
export const handler = pageFunction({
  name: 'status-page',
  path: '/status',
  schema: StatusPageParams,
  render: async ({ params, config, now }) => {
    // One store connection per instance, opened on first use.
    store ??= openStore(config.storeUrl).catch((e: unknown) => {
      store = undefined;
      throw e;
    });
    return statusPageHtml(await store, { now, only: params.waba, refreshSeconds: config.refreshSeconds });
  },
});
