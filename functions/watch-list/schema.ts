import * as z from '../../shared/validation/schema.ts';
import { CustSpaceId } from '../../shared/validation/cams-fields.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';
import { WatchEntries } from '../../shared/watch-list/entry.ts';
import { MAX_PAGE_SIZE } from '../../shared/watch-list/store.ts';

/** GET: one page; query values arrive as strings. */
export const ListWatchParams = camsParams(
  z.strictObject({
    PageSize: z.optional(
      z.pipe(
        z.string().check(z.regex(/^\d{1,4}$/, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)),
        z.transform((v) => Number(v)),
      ).check(z.refine((n) => n >= 1 && n <= MAX_PAGE_SIZE, `must be a whole number from 1 to ${MAX_PAGE_SIZE}`)),
    ),
    NextToken: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/, 'must be the NextToken of the previous page'))),
    CustSpaceId: z.optional(CustSpaceId()),
  }),
);
export type ListWatchParams = z.infer<typeof ListWatchParams>;

/** POST and DELETE: `{Targets: [...]}`, each target checked on its own. */
export const ChangeWatchParams = z.strictObject({ Targets: WatchEntries });
export type ChangeWatchParams = z.infer<typeof ChangeWatchParams>;
