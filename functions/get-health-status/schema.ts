import { HealthQuery } from '../../shared/validation/health-target.ts';

/** GetWhatsappHealthStatus's params as CAMS takes them (the watch list's node, less its one stricter rule). */
export const GetHealthStatusParams = HealthQuery;
