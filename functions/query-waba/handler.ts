import { preconnectCams } from '../../shared/http-fn/cams.ts';
import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { queryWaba } from '../../shared/services/cams-operations.ts';
import { QueryWabaParams } from './schema.ts';

export const handler = httpFunction({
  name: 'query-waba',
  routes: [{ method: 'GET', path: '/waba' }],
  schema: QueryWabaParams,
  service: queryWaba,
  preconnect: preconnectCams,
});
