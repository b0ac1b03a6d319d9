export function excludedFromArtifact(name: string): boolean;
export function zipFunction(servicePath: string, key: string): string;
export function protectTemplates(servicePath: string): void;
export function uploadAllArtifacts(this: {
  templates: { update: { Resources: Record<string, { Type: string; Properties: Record<string, string> }> } };
  serverless: { cli: { log(message: string): void } };
  provider: { uploadObject(objectName: string, localPath: string): Promise<unknown> };
}): Promise<void>;
export function triggerTakesInvocationRole(trigger: { triggerType: string }): boolean;
export default class CamsFcPlugin {
  constructor(serverless: unknown, options: Record<string, unknown>, pluginUtils?: unknown);
  hooks: Record<string, () => unknown>;
}
