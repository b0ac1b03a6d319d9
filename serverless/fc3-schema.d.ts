export const FC3_SCHEMA: { definitions: Record<string, unknown>; properties: Record<string, unknown> };
export const TRIGGER_CONFIG_BY_TYPE: Record<string, string>;
export function unknownProperties(schema: unknown, data: unknown, path: string): string[] | null;
export function validateSYaml(doc: unknown): string[];
