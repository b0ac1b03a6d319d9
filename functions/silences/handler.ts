import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { createSilenceService, deleteSilenceService, listSilencesService } from '../../shared/services/silences.ts';
import { openSharedStore } from '../../shared/store/index.ts';
import { createSilenceParams, DeleteSilenceParams, ListSilencesParams, type CreateSilenceInput } from './schema.ts';
import type * as z from '../../shared/validation/schema.ts';


export const handler = httpFunction<unknown>({
  name: 'silences',
  routes: [
    { method: 'POST', path: '/silences', schema: createSilenceParams() },
    { method: 'GET', path: '/silences', schema: ListSilencesParams },
    { method: 'DELETE', path: '/silences/{id}', schema: DeleteSilenceParams },
  ],
  schema: ListSilencesParams,
  service: async ({ config, route, params }) => {
    const s = await openSharedStore(config.storeUrl);
    const now = Date.now();
    if (route === 'POST /silences') return createSilenceService(s, params as CreateSilenceInput, now);
    if (route === 'DELETE /silences/{id}') return deleteSilenceService(s, (params as z.infer<typeof DeleteSilenceParams>).id, now);
    return listSilencesService(s, now, params as z.infer<typeof ListSilencesParams>);
  },
});
