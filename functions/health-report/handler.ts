import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { healthReport } from '../../shared/services/health-report.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { HealthReportParams } from './schema.ts';

let store: Promise<Store> | undefined;

export const handler = httpFunction({
  name: 'health-report',
  routes: [{ method: 'GET', path: '/health-report' }],
  schema: HealthReportParams,
  service: async ({ config }) => {
    // One store connection per instance, opened on first use.
    store ??= openStore(config.storeUrl).catch((e: unknown) => {
      store = undefined;
      throw e;
    });
    return { data: await healthReport(await store) };
  },
});
