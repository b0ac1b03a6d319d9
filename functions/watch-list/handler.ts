import { httpFunction } from '../../shared/http-fn/http-function.ts';
import { watchListApi } from '../../shared/services/watch-list.ts';
import { ChangeWatchParams, ListWatchParams } from './schema.ts';

export const handler = httpFunction<unknown>({
  name: 'watch-list',
  routes: [
    { method: 'GET', path: '/watch-list', schema: ListWatchParams },
    { method: 'POST', path: '/watch-list', schema: ChangeWatchParams },
    { method: 'DELETE', path: '/watch-list', schema: ChangeWatchParams },
  ],
  schema: ChangeWatchParams,
  service: watchListApi(),
});
