import * as z from 'zod/mini';

/** The report takes no parameters. */
export const HealthReportParams = z.strictObject({});
