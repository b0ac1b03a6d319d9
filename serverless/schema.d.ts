export const CRON_PATTERN: string;
export const ENV_NAME_PATTERN: string;
export const FUNCTION_KEY_PATTERN: string;
export const HTTP_PATH_PATTERN: string;
export const HTTP_METHODS: string[];
export const providerSchema: Record<string, unknown>;
export const functionSchema: Record<string, unknown>;
export const functionEvents: Record<string, Record<string, unknown>>;
export function defineCamsFcSchema(configSchemaHandler: unknown): void;
