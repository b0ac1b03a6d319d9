import { statusPageHtml } from '../../shared/services/status-page.ts';
import { pageFunction } from '../../shared/status-page/page-function.ts';
import { openSharedStore } from '../../shared/store/index.ts';
import { StatusPageParams } from './schema.ts';

/** `GET /status`: the HTML status page (STATUS_PAGE_TOKEN / STATUS_PAGE_PUBLIC decide who sees it). */
export const handler = pageFunction({
  name: 'status-page',
  path: '/status',
  schema: StatusPageParams,
  render: async ({ params, config, now }) => {
    return statusPageHtml(await openSharedStore(config.storeUrl), { now, only: params.waba, refreshSeconds: config.refreshSeconds });
  },
});
