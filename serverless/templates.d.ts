export const TRIGGER_TYPE: 'ALIYUN::FC::Trigger';
export const FUNCTION_TYPE: 'ALIYUN::FC::Function';
export const API_TYPE: 'ALIYUN::API::HTTP';
export const OBJECT_TYPE: 'ALIYUN::OSS:Object';
export const ROLE_TYPE: 'ALIYUN::RAM::Role';

export interface RamStatement {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, unknown>;
}
export interface HttpEvent {
  method: string;
  path: string;
}

export function fitName(name: string, max: number, joiner?: string): string;
export function mergeEnvironment(
  providerEnv?: Record<string, unknown>,
  functionEnv?: Record<string, unknown>,
): Record<string, string>;
export function environmentSize(env: Record<string, string>): number;
export function normalizeStatements(
  statements?: { Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, unknown> }[],
): RamStatement[];
export function apiGatewayPath(path: string): { path: string; params: string[] };
export function apiName(functionName: string, event: HttpEvent, httpEventCount: number): string;
export function triggerName(kind: string, functionName: string, index: number): string;
export function timerTriggerConfig(event: { cronExpression: string; enable?: boolean; payload?: string }): {
  cronExpression: string;
  enable: boolean;
  payload: string;
};
export function eventbridgeTriggerConfig(event: {
  eventRuleFilterPattern: Record<string, unknown>;
  triggerEnable?: boolean;
  asyncInvocationType?: boolean;
}): Record<string, unknown>;
export function mnsTriggerConfig(
  event: {
    queueName: string;
    regionId?: string;
    isBase64Decode?: boolean;
    eventRuleFilterPattern?: Record<string, unknown>;
    triggerEnable?: boolean;
    asyncInvocationType?: boolean;
  },
  region: string,
): Record<string, unknown>;
export function functionRole(ctx: unknown, key: string, funcObject: unknown): [string, unknown] | undefined;
export function addFunctionRoles(template: unknown, ctx: unknown, functionKeys: string[]): void;
export function completeFunctions(template: unknown, ctx: unknown, functionKeys: string[]): void;
