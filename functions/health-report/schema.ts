import * as z from '../../shared/validation/schema.ts';
import { REPORT_MAX_PAGE_SIZE } from '../../shared/services/health-report.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';
import { HealthNode } from '../../shared/validation/health-target.ts';

const pageSizeMessage = `must be a whole number from 1 to ${REPORT_MAX_PAGE_SIZE}`;

/** One page of the report; query values arrive as strings. */
export const HealthReportParams = camsParams(
  z.strictObject({
    PageSize: z.optional(
      z.pipe(
        z.string().check(z.regex(/^\d{1,4}$/, pageSizeMessage)),
        z.transform((v) => Number(v)),
      ).check(z.refine((n) => n >= 1 && n <= REPORT_MAX_PAGE_SIZE, pageSizeMessage)),
    ),
    NextToken: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,2048}$/, 'must be the NextToken of the previous page'))),
  }),
);
export type HealthReportParams = z.infer<typeof HealthReportParams>;

/** A node's history is asked for with the params that name it for GetWhatsappHealthStatus. */
export const HealthHistoryParams = HealthNode;
