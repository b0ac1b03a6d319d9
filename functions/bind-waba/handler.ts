import { preconnectCams } from '../../shared/http-fn/cams.ts';
import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { bindWaba } from '../../shared/services/cams-operations.ts';
import { BindWabaParams } from './schema.ts';

export const handler = httpFunction({
  name: 'bind-waba',
  routes: [{ method: 'POST', path: '/waba/bind' }],
  schema: BindWabaParams,
  service: bindWaba,
  preconnect: preconnectCams,
});
