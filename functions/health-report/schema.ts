import * as z from '../../shared/validation/schema.ts';
import { REPORT_MAX_PAGE_SIZE } from '../../shared/services/health-report.ts';
import { camsParams } from '../../shared/validation/cams-params.ts';
import { HealthNode } from '../../shared/validation/health-target.ts';
import { NextToken, PageSize } from '../../shared/validation/page-params.ts';

/** One page of the report; query values arrive as strings. */
export const HealthReportParams = camsParams(z.strictObject({ PageSize: PageSize(REPORT_MAX_PAGE_SIZE), NextToken: NextToken() }));
export type HealthReportParams = z.infer<typeof HealthReportParams>;

/** A node's history is asked for with the params that name it for GetWhatsappHealthStatus. */
export const HealthHistoryParams = HealthNode;
