// The strict configuration schema of this project's serverless.yml, registered for the `aliyun`
// provider. serverless-aliyun-function-compute registers none, so without this serverless@3
// loosens validation and typos pass silently. With `configValidationMode: error` any property or
// event not listed here fails `serverless package` with "Configuration error ...".
//
// Patterns are compiled by ajv with the `u` flag: keep them to syntax Node 20 accepts in unicode
// mode (no inline modifiers such as `(?i:...)`, no needless escapes).

/** FC 2.0 cron: 6 fields (with seconds) or `@every 1h30m`, optional `CRON_TZ=Area/City ` prefix. */
export const CRON_PATTERN = '^(CRON_TZ=[A-Za-z0-9_+/-]+ )?(@every ([0-9]+[hms])+|[^ ]+( [^ ]+){5})$';
/** FC env var names: start with a letter; `FC_*` is reserved by Function Compute. */
export const ENV_NAME_PATTERN = '^(?!FC_)[A-Za-z][A-Za-z0-9_]*$';
export const FUNCTION_KEY_PATTERN = '^[a-z][a-z0-9-]{0,63}$';
export const HTTP_PATH_PATTERN = '^/[A-Za-z0-9._~/{}-]*$';
/** A stage name (`--stage`, provider.stage): npm start and npm run package check it with this too. */
export const STAGE_PATTERN = '^[a-zA-Z0-9-]+$';
/** MNS: a queue name is 1..120 letters, digits and `-`, starting with a letter or digit. */
export const MNS_QUEUE_NAME_MAX = 120;
export const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'];

const stringOrStrings = (pattern) => {
  const item = pattern ? { type: 'string', pattern } : { type: 'string', minLength: 1 };
  return { anyOf: [item, { type: 'array', items: item, minItems: 1 }] };
};

const environment = {
  type: 'object',
  patternProperties: {
    [ENV_NAME_PATTERN]: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
  },
  additionalProperties: false,
};

const ramRoleStatements = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      Effect: { enum: ['Allow', 'Deny'] },
      Action: stringOrStrings('^[a-z][a-z0-9-]*:[A-Za-z0-9*]+$'),
      Resource: stringOrStrings(),
      Condition: { type: 'object' },
    },
    required: ['Effect', 'Action', 'Resource'],
    additionalProperties: false,
  },
};

const memorySize = { type: 'integer', minimum: 128, maximum: 32768, multipleOf: 64 };
const timeout = { type: 'integer', minimum: 1, maximum: 86400 };
const eventPattern = { type: 'object', minProperties: 1 };

export const providerSchema = {
  properties: {
    runtime: { enum: ['nodejs20'] },
    region: { type: 'string', pattern: '^[a-z]{2,}-[a-z]+(-[0-9]+)?$' },
    stage: { type: 'string', pattern: STAGE_PATTERN },
    credentials: { type: 'string', minLength: 1 },
    memorySize,
    timeout,
    environment,
    // no provider-level ramRoleStatements: the aliyun plugin would put them in the service-wide
    // role, i.e. grant them to every function. Permissions are per function (ramRoleStatements).
  },
  required: ['runtime', 'region', 'credentials'],
};

export const functionSchema = {
  properties: {
    handler: { type: 'string', pattern: '^[^.]+\\.[^.]+$' },
    description: { type: 'string', maxLength: 256 },
    memorySize,
    timeout,
    environment,
    ramRoleStatements,
  },
  required: ['handler'],
};

export const functionEvents = {
  http: {
    type: 'object',
    properties: {
      method: { enum: HTTP_METHODS },
      path: { type: 'string', pattern: HTTP_PATH_PATTERN },
    },
    required: ['method', 'path'],
    additionalProperties: false,
  },
  timer: {
    type: 'object',
    properties: {
      cronExpression: { type: 'string', pattern: CRON_PATTERN },
      enable: { type: 'boolean' },
      payload: { type: 'string' },
    },
    required: ['cronExpression'],
    additionalProperties: false,
  },
  eventbridge: {
    type: 'object',
    properties: {
      eventRuleFilterPattern: eventPattern,
      triggerEnable: { type: 'boolean' },
      asyncInvocationType: { type: 'boolean' },
    },
    required: ['eventRuleFilterPattern'],
    additionalProperties: false,
  },
  mns: {
    type: 'object',
    properties: {
      queueName: { type: 'string', pattern: `^[A-Za-z0-9][A-Za-z0-9-]{0,${MNS_QUEUE_NAME_MAX - 1}}$` },
      regionId: { type: 'string', pattern: '^[a-z]{2,}-[a-z]+(-[0-9]+)?$' },
      isBase64Decode: { type: 'boolean' },
      eventRuleFilterPattern: eventPattern,
      triggerEnable: { type: 'boolean' },
      asyncInvocationType: { type: 'boolean' },
    },
    required: ['queueName'],
    additionalProperties: false,
  },
};

/**
 * Registers the schema. Function keys are checked here too (serverless' own pattern allows
 * upper case and underscores, which FC and the dist/<name>/ layout do not want).
 * @param {any} configSchemaHandler serverless.configSchemaHandler
 */
export function defineCamsFcSchema(configSchemaHandler) {
  configSchemaHandler.defineProvider('aliyun', {
    provider: providerSchema,
    function: functionSchema,
    functionEvents,
  });
}
