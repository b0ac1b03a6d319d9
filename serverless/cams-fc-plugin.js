// Project-local Serverless Framework v3 plugin for cams-fc. Listed in serverless.yml AFTER
// serverless-aliyun-function-compute, whose gaps it fills (see /work/shared/notes/serverless.md):
//   - a strict config schema for the aliyun provider (schema.js), so typos fail `package`;
//   - FC function name = the function's key (not `<service>-<stage>-<key>`);
//   - one zip per function from dist/<function>/ (built by scripts/build.ts) instead of one
//     service-wide zip, and a deploy upload step that uploads every per-function zip;
//   - in the templates: environmentVariables and description of each function, one API Gateway
//     API per http event (the aliyun plugin keeps one per function), FC 2.0 timer / eventbridge /
//     mns (EventBridge, source MNS) triggers, and each function's own RAM role and policy;
//   - deploy-time checks before anything is packaged (deploy-checks.js): FC's environment limits,
//     and for any stage but dev, API_KEYS and a redis STORE_URL;
//   - the FC 3.0 route: dist/s.yaml (Serverless Devs fc3) and dist/fc3/, validated (fc3.js).
// Serverless loads this ES module through its import() fallback (package.json has "type": "module").
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineCamsFcSchema, FUNCTION_KEY_PATTERN } from './schema.js';
import { createZip, directoryEntries } from './zip.js';
import { addFunctionRoles, completeFunctions, OBJECT_TYPE } from './templates.js';
import { deployChecks, loadDeployReaders, stageCharsetProblem, stageTooLong } from './deploy-checks.js';
import { packageFc3, REMOVED_NOTE, removeEarlierPackaging } from './fc3.js';
import { validateSYaml } from './fc3-schema.js';

/** Files of dist/<function>/ that are not deployed (build metadata, source maps, the fc3 ignore list). */
export const excludedFromArtifact = (name) => name === 'meta.json' || name === '.fcignore' || name.endsWith('.map');

/**
 * Writes `.serverless/<key>.zip` from `dist/<key>/` and returns its path relative to servicePath.
 * @param {string} servicePath
 * @param {string} key
 */
export function zipFunction(servicePath, key) {
  const dir = join(servicePath, 'dist', key);
  if (!existsSync(join(dir, 'index.js'))) {
    throw new Error(
      `cams-fc: dist/${key}/index.js not found. Build the function bundles first: npm run build ` +
        `(scripts/build.ts bundles functions/${key}/handler.ts).`,
    );
  }
  const entries = directoryEntries(dir, (name) => !excludedFromArtifact(name));
  const out = join(servicePath, '.serverless');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `${key}.zip`), createZip(entries));
  return join('.serverless', `${key}.zip`);
}

/**
 * The FC 2.0 templates hold every function's environment, secrets included (API_KEYS, STORE_URL's
 * password, sink webhooks), as dist/s.yaml does: the owner's alone, whatever the umask.
 * @param {string} servicePath
 */
export function protectTemplates(servicePath) {
  const dir = join(servicePath, '.serverless');
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) if (name.startsWith('configuration-template-') && name.endsWith('.json')) chmodSync(join(dir, name), 0o600);
}

/** Deploy upload step: every OSS object in the update template, not only the aliyun plugin's one. */
export async function uploadAllArtifacts() {
  const objects = Object.values(this.templates.update.Resources).filter((r) => r.Type === OBJECT_TYPE);
  for (const { Properties: object } of objects) {
    this.serverless.cli.log(`Uploading ${object.ObjectName} to OSS bucket ${object.BucketName}...`);
    await this.provider.uploadObject(object.ObjectName, object.LocalPath);
    this.serverless.cli.log(`Uploaded ${object.ObjectName} to OSS bucket ${object.BucketName}`);
  }
}

/** Timer and EventBridge triggers take no invocation role (the aliyun plugin always passes the API Gateway one). */
export const triggerTakesInvocationRole = (trigger) => !['timer', 'eventbridge'].includes(trigger.triggerType);

export default class CamsFcPlugin {
  constructor(serverless, options, pluginUtils = {}) {
    this.serverless = serverless;
    this.options = options;
    this.logger = pluginUtils.log;
    this.provider = serverless.getProvider('aliyun');
    if (!this.provider) {
      throw this.userError(new Error('cams-fc: list serverless-aliyun-function-compute before ./serverless/cams-fc-plugin.js in `plugins:`'));
    }

    defineCamsFcSchema(serverless.configSchemaHandler);
    this.checkStage();
    this.normalizeFunctionNames();
    this.patchDeploy();

    this.hooks = {
      'before:package:cleanup': () => this.checkDeployment(),
      'after:package:finalize': () => {
        protectTemplates(this.serverless.config.servicePath);
        return this.writeFc3();
      },
      'before:package:createDeploymentArtifacts': () => this.zipFunctions(this.functionKeys()),
      'before:package:function:package': () => {
        if (this.options.function) this.zipFunctions([this.options.function]);
      },
      'after:package:initialize': () => this.addRoles(),
      'before:package:compileFunctions': () => this.lendServiceArtifact(),
      'after:package:compileFunctions': () => this.completeTemplate(this.functionKeys(), { withRoles: false }),
      // `serverless deploy function -f x` compiles its own template (aliyun's compileFunction)
      'after:deploy:function:packageFunction': () => this.completeTemplate([this.options.function], { withRoles: true }),
    };
  }

  log(message) {
    if (this.logger) this.logger.notice(message);
    else this.serverless.cli.log(message);
  }

  functionKeys() {
    return this.serverless.service.getAllFunctions();
  }

  /** FC 2.0 functions live inside the `<service>-<stage>` FC service: name them by their key. */
  normalizeFunctionNames() {
    const functions = this.serverless.service.functions ?? {};
    const pattern = new RegExp(FUNCTION_KEY_PATTERN);
    for (const [key, fn] of Object.entries(functions)) {
      if (!pattern.test(key)) {
        throw this.userError(new Error(`cams-fc: function name "${key}" must match ${FUNCTION_KEY_PATTERN} (it is also the FC function name and the dist/ folder)`));
      }
      if (fn && typeof fn === 'object' && !fn.name) fn.name = key;
    }
  }

  /**
   * Before the schema is checked (after this constructor): a stage a name it goes into refuses
   * (capitals: the FC 2.0 logstore; too long: the roles, queues...) would otherwise fail at
   * `serverless deploy`, or on that name's pattern, without a word of the stage.
   */
  checkStage() {
    const service = this.serverless.service;
    const svc = {
      service: service.service,
      stage: String(this.options.stage ?? service.provider?.stage ?? 'dev'),
      region: this.options.region ?? service.provider?.region,
      functions: service.functions ?? {},
    };
    const problem = stageCharsetProblem(svc) ?? stageTooLong(svc, this.writtenConfiguration());
    if (problem) throw this.userError(new Error(`cams-fc: ${problem}`));
  }

  /**
   * serverless.yml as written (its variables unresolved: the service's are resolved in place before
   * plugins load), read with the framework's own parser; undefined when it cannot be read.
   */
  writtenConfiguration() {
    const { serviceDir, configurationFilename } = this.serverless;
    if (!serviceDir || !configurationFilename) return undefined;
    try {
      return this.serverless.utils.readFileSync(join(serviceDir, configurationFilename));
    } catch {
      return undefined;
    }
  }

  patchDeploy() {
    const plugins = this.serverless.pluginManager?.plugins ?? [];
    for (const plugin of plugins) {
      const kind = plugin?.constructor?.name;
      if (kind === 'AliyunDeploy' || kind === 'AliyunDeployFunction') plugin.uploadArtifacts = uploadAllArtifacts;
    }
    const provider = this.provider;
    for (const method of ['createTrigger', 'updateTrigger']) {
      const original = provider[method];
      if (typeof original !== 'function' || original.camsFcPatched) continue;
      const patched = function (...args) {
        const trigger = method === 'createTrigger' ? args[2] : args[3];
        if (trigger && !triggerTakesInvocationRole(trigger)) {
          const [serviceName, functionName] = args;
          const props = { ...trigger };
          delete props.invocationRole;
          return method === 'createTrigger'
            ? provider.fcClient.createTrigger(serviceName, functionName, props)
            : provider.fcClient.updateTrigger(serviceName, functionName, args[2], props);
        }
        return original.apply(provider, args);
      };
      patched.camsFcPatched = true;
      provider[method] = patched;
    }
  }

  /** Our own failures as ServerlessError: a clear message, no stack trace. */
  userError(error) {
    const ServerlessError = this.serverless.classes?.Error;
    if (!ServerlessError || error instanceof ServerlessError) return error;
    return new ServerlessError(error.message, 'CAMS_FC_PACKAGING_ERROR');
  }

  /** The resolved service, as the FC 3.0 generator and the deploy checks read it. */
  resolvedService() {
    const service = this.serverless.service;
    const provider = service.provider;
    return {
      service: service.service,
      stage: this.options.stage ?? provider.stage ?? 'dev',
      region: this.options.region ?? provider.region,
      runtime: provider.runtime,
      memorySize: provider.memorySize,
      timeout: provider.timeout,
      environment: provider.environment,
      vpcConfig: service.custom?.fc3?.vpcConfig,
      functions: Object.fromEntries(this.functionKeys().map((k) => [k, service.getFunction(k)])),
    };
  }

  async checkDeployment() {
    let readers;
    try {
      readers = await loadDeployReaders();
    } catch (error) {
      throw this.userError(new Error(`cams-fc: cannot load how the functions read their settings (shared/services/config-check.ts, through tsx): ${error.message}`));
    }
    const { errors, warnings } = deployChecks(this.resolvedService(), readers);
    for (const w of warnings) this.warn(`cams-fc: ${w}`);
    if (errors.length === 0) return;
    // What an earlier packaging left (another stage's, say) must not be deployed in this one's place.
    removeEarlierPackaging(this.serverless.config.servicePath);
    throw this.userError(new Error(`cams-fc: cannot package:\n  ${errors.join('\n  ')}\n${REMOVED_NOTE}`));
  }

  warn(message) {
    if (this.logger) this.logger.warning(message);
    else this.serverless.cli.log(`warning: ${message}`);
  }

  writeFc3() {
    const svc = this.resolvedService();
    let written;
    try {
      written = packageFc3(join(this.serverless.config.servicePath, 'dist'), svc, { validate: validateSYaml });
    } catch (error) {
      throw this.userError(error);
    }
    this.log(`cams-fc: FC 3.0 deployment (Serverless Devs fc3) in dist/s.yaml and dist/fc3/, checked against the fc3 schema`);
    return written;
  }

  zipFunctions(keys) {
    const servicePath = this.serverless.config.servicePath;
    for (const key of keys) {
      const fn = this.serverless.service.getFunction(key);
      let artifact;
      try {
        artifact = zipFunction(servicePath, key);
      } catch (error) {
        throw this.userError(error);
      }
      fn.package = { ...(fn.package ?? {}), artifact };
    }
    this.log(`cams-fc: packaged ${keys.length} function artifact(s) from dist/<function>/ into .serverless/<function>.zip`);
  }

  /**
   * The aliyun plugin's compileFunctions needs a service-wide artifact; give it the first
   * function's zip for the duration (completeTemplate replaces its object with per-function ones).
   */
  lendServiceArtifact() {
    const pkg = (this.serverless.service.package ??= {});
    if (pkg.artifact) return;
    const first = this.functionKeys()[0];
    if (first === undefined) return;
    pkg.artifact = this.serverless.service.getFunction(first).package?.artifact;
    this.lentArtifact = true;
  }

  context() {
    const service = this.serverless.service;
    return {
      provider: this.provider,
      serviceName: this.provider.getServiceName(),
      servicePath: this.serverless.config.servicePath,
      region: this.provider.options.region,
      providerEnvironment: service.provider.environment,
      artifactDirectoryName: service.package?.artifactDirectoryName,
      getFunction: (key) => service.getFunction(key),
    };
  }

  addRoles() {
    const template = this.serverless.service.provider.compiledConfigurationTemplate;
    addFunctionRoles(template, this.context(), this.functionKeys());
    // rewrite the create template the aliyun plugin wrote during package:initialize
    const file = join(this.serverless.config.servicePath, '.serverless', 'configuration-template-create.json');
    this.serverless.utils.writeFileSync(file, template);
  }

  completeTemplate(keys, { withRoles }) {
    const template = this.serverless.service.provider.compiledConfigurationTemplate;
    try {
      if (withRoles) addFunctionRoles(template, this.context(), keys);
      completeFunctions(template, this.context(), keys);
    } catch (error) {
      throw this.userError(error);
    }
    if (this.lentArtifact) {
      delete this.serverless.service.package.artifact;
      this.lentArtifact = false;
    }
    this.log(`cams-fc: completed ${keys.length} function(s) in the templates (code, environment, APIs, triggers, RAM roles)`);
  }
}
