import { preconnectCams } from '../../shared/http-fn/cams.ts';
import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { addPhoneNumber } from '../../shared/services/cams-operations.ts';
import { AddPhoneNumberParams } from './schema.ts';

export const handler = httpFunction({
  name: 'add-phone-number',
  routes: [{ method: 'POST', path: '/phone-numbers' }],
  schema: AddPhoneNumberParams,
  service: addPhoneNumber,
  preconnect: preconnectCams,
});
