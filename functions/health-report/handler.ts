import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { healthHistory } from '../../shared/services/health-history.ts';
import { decodeReportToken, healthReport } from '../../shared/services/health-report.ts';
import { openSharedStore } from '../../shared/store/index.ts';
import type { HealthNode } from '../../shared/validation/health-target.ts';
import { unknownNextToken } from '../../shared/validation/page-params.ts';
import { HealthHistoryParams, HealthReportParams } from './schema.ts';

export const handler = httpFunction<unknown>({
  name: 'health-report',
  routes: [
    { method: 'GET', path: '/health-report', schema: HealthReportParams },
    { method: 'GET', path: '/health-report/history', schema: HealthHistoryParams },
  ],
  schema: HealthReportParams,
  service: async ({ config, route, params }) => {
    const store = openSharedStore(config.storeUrl);
    if (route === 'GET /health-report/history') return { data: await healthHistory(await store, params as HealthNode) };
    const p = params as HealthReportParams;
    const after = p.NextToken === undefined ? undefined : decodeReportToken(p.NextToken);
    if (p.NextToken !== undefined && after === undefined) throw unknownNextToken();
    return { data: await healthReport(await store, { ...(p.PageSize !== undefined ? { pageSize: p.PageSize } : {}), ...(after !== undefined ? { after } : {}) }) };
  },
});
