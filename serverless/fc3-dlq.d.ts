export function deadLetterQueueName(queueName: string): string;
export function asyncFailureQueueName(service: string, stage: string, key: string): string;
export function mnsRunOptions(queueName: string, region: string): Record<string, unknown>;
export const ASYNC_RETRY_ATTEMPTS: number;
export const ASYNC_EVENT_AGE_SECONDS: number;
export function invokedAsync(key: string, functions: Record<string, any>): boolean; // eslint-disable-line @typescript-eslint/no-explicit-any
export function asyncInvokeConfig(queueName: string, region: string): Record<string, unknown>;
export function sendToQueueStatement(queueName: string, region: string): { Effect: string; Action: string[]; Resource: string[] };
