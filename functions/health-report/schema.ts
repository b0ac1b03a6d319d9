import * as z from 'zod/mini';
import { HealthNode } from '../../shared/validation/health-target.ts';

/** The report takes no parameters. */
export const HealthReportParams = z.strictObject({});

/** A node's history is asked for with the params that name it for GetWhatsappHealthStatus. */
export const HealthHistoryParams = HealthNode;
