import { preconnectCams } from '../../shared/http-fn/cams.ts';
import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { getHealthStatus } from '../../shared/services/cams-operations.ts';
import { GetHealthStatusParams } from './schema.ts';

export const handler = httpFunction({
  name: 'get-health-status',
  routes: [{ method: 'GET', path: '/health-status' }],
  schema: GetHealthStatusParams,
  service: getHealthStatus,
  preconnect: preconnectCams,
});
