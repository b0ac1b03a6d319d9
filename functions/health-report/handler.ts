import { HttpError } from '../../shared/http-fn/errors.ts';
import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { decodeReportToken, healthReport } from '../../shared/services/health-report.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { HealthReportParams } from './schema.ts';

let store: Promise<Store> | undefined;

export const handler = httpFunction({
  name: 'health-report',
  routes: [{ method: 'GET', path: '/health-report' }],
  schema: HealthReportParams,
  service: async ({ config, params }) => {
    const p = params as HealthReportParams;
    const after = p.NextToken === undefined ? undefined : decodeReportToken(p.NextToken);
    if (p.NextToken !== undefined && after === undefined) {
      throw new HttpError(400, 'InvalidParameter', 'NextToken: must be the NextToken of the previous page', { fields: [{ Field: 'NextToken', Message: 'must be the NextToken of the previous page' }] });
    }
    // One store connection per instance, opened on first use.
    store ??= openStore(config.storeUrl).catch((e: unknown) => {
      store = undefined;
      throw e;
    });
    return { data: await healthReport(await store, { ...(p.PageSize !== undefined ? { pageSize: p.PageSize } : {}), ...(after !== undefined ? { after } : {}) }) };
  },
});
