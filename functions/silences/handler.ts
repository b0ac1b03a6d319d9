import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { createSilenceService, deleteSilenceService, listSilencesService } from '../../shared/services/silences.ts';
import { openStore } from '../../shared/store/index.ts';
import type { Store } from '../../shared/store/port.ts';
import { CreateSilenceParams, DeleteSilenceParams, ListSilencesParams } from './schema.ts';
import type * as z from 'zod/mini';

let store: Promise<Store> | undefined;
const openOnce = (url: string): Promise<Store> =>
  (store ??= openStore(url).catch((e: unknown) => {
    store = undefined;
    throw e;
  }));

export const handler = httpFunction<unknown>({
  name: 'silences',
  routes: [
    { method: 'POST', path: '/silences', schema: CreateSilenceParams },
    { method: 'GET', path: '/silences', schema: ListSilencesParams },
    { method: 'DELETE', path: '/silences/{id}', schema: DeleteSilenceParams },
  ],
  schema: ListSilencesParams,
  service: async ({ config, route, params }) => {
    const s = await openOnce(config.storeUrl);
    const now = Date.now();
    if (route === 'POST /silences') return createSilenceService(s, params as z.infer<typeof CreateSilenceParams>, now);
    if (route === 'DELETE /silences/{id}') return deleteSilenceService(s, (params as z.infer<typeof DeleteSilenceParams>).id, now);
    return listSilencesService(s, now);
  },
});
