export const FC_ENV_LIMIT_BYTES: number;
export const FC_ENV_NAME: RegExp;
export const DEV_STAGES: string[];
export const ALERT_SINK_VARIABLES: string[];
export const ALERT_SINK_SETTINGS: string[];
export const ALERT_DELIVERERS: string[];
export const ALERT_POLICY_VARIABLES: string[];
export interface DeployReaders {
  readAlertSettings: (env: Record<string, string | undefined>) => Record<string, { value?: string; problem?: { variable: string; message: string } }>;
}
export function loadDeployReaders(): Promise<DeployReaders>;
export function deployChecks(
  svc: {
    /** With it, each function's environment is weighed as dist/s.yaml holds it too. */
    service?: string;
    stage: string;
    /** The functions' region: an mns event's regionId must be it. */
    region?: string;
    environment?: Record<string, unknown>;
    vpcConfig?: { vpcId?: unknown; vSwitchIds?: unknown; securityGroupId?: unknown } | undefined;
    functions: Record<string, { environment?: Record<string, unknown>; events?: unknown[] }>;
  },
  readers: DeployReaders,
): { errors: string[]; warnings: string[] };
export const S_YAML_NAME_MAX: number;
export const RAM_ROLE_NAME_MAX: number;
export const LOGSTORE_NAME_MAX: number;
export const API_GROUP_NAME_MAX: number;
export const DEPLOY_STAGE: RegExp;
export function stageCharsetProblem(svc: { service: string; stage: string }): string | undefined;
export function stageTooLong(
  svc: { service: string; stage: string; region?: string; functions: Record<string, { events?: unknown[] }> },
  written?: { functions?: Record<string, { events?: unknown[] } | null> } | null,
): string | undefined;
export function stageLimits(
  svc: { service: string; stage: string; region?: string; functions: Record<string, { events?: unknown[] }> },
  written?: { functions?: Record<string, { events?: unknown[] } | null> } | null,
): Array<{ name: string; shown: string; limit: number; what: string; max: number }>;
