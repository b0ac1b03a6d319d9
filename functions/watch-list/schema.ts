import * as z from '../../shared/validation/schema.ts';
import { CustSpaceId } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';
import { NextToken, PageSize } from '../../shared/validation/page-params.ts';
import { WatchEntries } from '../../shared/watch-list/entry.ts';
import { MAX_PAGE_SIZE } from '../../shared/watch-list/store.ts';

/** GET: one page; query values arrive as strings. */
export const ListWatchParams = camsParams(
  z.strictObject({
    PageSize: PageSize(MAX_PAGE_SIZE),
    NextToken: NextToken(),
    CustSpaceId: z.optional(CustSpaceId()),
  }),
);
export type ListWatchParams = z.infer<typeof ListWatchParams>;

/** POST and DELETE: `{Targets: [...]}`, each target checked on its own. */
export const ChangeWatchParams = z.strictObject({ Targets: WatchEntries });
export type ChangeWatchParams = z.infer<typeof ChangeWatchParams>;
