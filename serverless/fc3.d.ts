export interface Fc3Service {
  service: string;
  stage: string;
  region: string;
  runtime: string;
  memorySize?: number;
  timeout?: number;
  environment?: Record<string, unknown>;
  functions: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** serverless.yml's custom.fc3.vpcConfig: every function's VPC (all empty: none). */
  vpcConfig?: { vpcId?: unknown; vSwitchIds?: unknown; securityGroupId?: unknown } | undefined;
}
export interface Fc3Role {
  key: string;
  roleName: string;
  policyName: string;
  trustPolicy: { Version: string; Statement: { Action: string; Effect: string; Principal: { Service: string[] } }[] };
  policy: { Version: string; Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
}
export interface Fc3EventRule {
  bus: string;
  ruleName: string;
  function: string;
  filterPattern: string;
  invocationType: 'Async' | 'Sync';
  enabled: boolean;
}
export interface Fc3Deployment {
  sYaml: { edition: string; name: string; access: string; resources: Record<string, { component: string; props: Record<string, any> }> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  roles: Fc3Role[];
  eventRules: Fc3EventRule[];
  routes: { method: string; path: string; customDomainPath: string; function: string }[];
  bus: string;
  logsPolicyName: string;
  /** ownerMark(service, stage): what ram.sh and eventbridge.sh prefix the descriptions of what they make with. */
  mark: string;
}
export const FC3_EDITION: string;
export function ownerMark(service: string, stage: string): string;
export function fc3FunctionName(service: string, stage: string, key: string): string;
export function fc3RoleName(service: string, stage: string, key: string): string;
export function fc3Resource(resource: string, names: Record<string, string>): string[];
export function fc3VpcConfig(v: Fc3Service['vpcConfig']): { vpcId: string; vSwitchIds: string[]; securityGroupId: string } | undefined;
export function fc3Environments(svc: Pick<Fc3Service, 'service' | 'stage' | 'environment' | 'functions'>): Record<string, Record<string, string>>;
export function fc3Deployment(svc: Fc3Service): Fc3Deployment;
export function ramScript(deployment: Fc3Deployment): string;
export function eventTargets(rule: Fc3EventRule, region: string): unknown[];
export function eventBridgeScript(deployment: Fc3Deployment, region: string): string;
export function writeFc3(distDir: string, deployment: Fc3Deployment, region: string): { sYamlFile: string; dir: string };
export function removeFc3(distDir: string): void;
export const REMOVED_NOTE: string;
export function removeEarlierPackaging(servicePath: string): void;
export function packageFc3(
  distDir: string,
  svc: Fc3Service,
  opts: { generate?: (svc: Fc3Service) => Fc3Deployment; validate: (doc: unknown) => string[] },
): { deployment: Fc3Deployment; sYamlFile: string; dir: string };
