import { HealthNode } from '../../shared/validation/health-target.ts';

/** The same node description the monitor's watch list uses. */
export const GetHealthStatusParams = HealthNode;
