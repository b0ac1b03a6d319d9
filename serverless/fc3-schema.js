// Validation of a generated s.yaml against the fc3 component's own props schema (vendored in
// vendor/fc3/, draft-07, the component validates with ajv too), plus what that schema leaves open:
// the s.yaml envelope, and property names. The component ignores a property it does not know, so
// a misspelt one (`memmorySize`) would deploy silently with a default: here it is an error.
import { readFileSync } from 'node:fs';
import { URL } from 'node:url';
import AjvModule from 'ajv';

const Ajv = AjvModule.default ?? AjvModule;
export const FC3_SCHEMA = JSON.parse(readFileSync(new URL('./vendor/fc3/schema.json', import.meta.url), 'utf8'));

/**
 * The schema's triggerConfig is an anyOf of every kind, so a broken http config passes as some
 * other kind; the component reads it by triggerType, and so is it checked here.
 */
export const TRIGGER_CONFIG_BY_TYPE = {
  http: 'IHttpTriggerConfig',
  timer: 'ITimerTriggerConfig',
  eventbridge: 'IEventBridge',
  mns_topic: 'IMnsTriggerConfig',
  oss: 'IOssTriggerConfig',
  log: 'ILogTriggerConfig',
  cdn_events: 'ICdnTriggerConfig',
  tablestore: 'IOtsConfig',
};

let compiled;
const validators = () => {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(FC3_SCHEMA, 'fc3');
  const byType = Object.fromEntries(Object.entries(TRIGGER_CONFIG_BY_TYPE).map(([t, def]) => [t, ajv.compile({ $ref: `fc3#/definitions/${def}` })]));
  return (compiled = { props: ajv.getSchema('fc3'), byType });
};

function ajvErrors(validate, at) {
  const out = [];
  for (const e of validate.errors ?? []) {
    // anyOf / if report every branch; the branch errors name the actual problem
    if (e.keyword === 'anyOf' || e.keyword === 'if') continue;
    const where = `${at}${e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.')}`;
    const detail = e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : e.params?.missingProperty ? ` '${e.params.missingProperty}'` : '';
    out.push(`${where}: ${e.message}${detail}`);
  }
  return out;
}

const deref = (schema) => {
  let s = schema;
  while (s && s.$ref) s = FC3_SCHEMA.definitions[s.$ref.replace('#/definitions/', '')];
  return s ?? {};
};
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Property names in `data` the schema does not define (where it does not allow others). */
export function unknownProperties(schema, data, path) {
  const s = deref(schema);
  if (s.anyOf) {
    // the branch that fits best decides (trigger configs are an anyOf of every trigger kind)
    const tries = s.anyOf.map((b) => unknownProperties(b, data, path)).filter((r) => r !== null);
    return tries.length === 0 ? [] : tries.reduce((a, b) => (b.length < a.length ? b : a));
  }
  if (Array.isArray(data)) {
    if (!s.items || Array.isArray(s.items)) return [];
    return data.flatMap((item, i) => unknownProperties(s.items, item, `${path}[${i}]`) ?? []);
  }
  if (!isObject(data)) return s.type === 'object' ? null : [];
  if (s.type && s.type !== 'object') return null;
  const props = s.properties ?? {};
  const out = [];
  for (const [k, v] of Object.entries(data)) {
    if (k in props) out.push(...(unknownProperties(props[k], v, `${path}.${k}`) ?? []));
    else if (s.additionalProperties === undefined && s.properties) out.push(`${path}.${k}`);
    else if (isObject(s.additionalProperties)) out.push(...(unknownProperties(s.additionalProperties, v, `${path}.${k}`) ?? []));
  }
  return out;
}

/** Every problem of an s.yaml document, each naming its path; [] when it is valid. */
export function validateSYaml(doc) {
  const errors = [];
  if (!isObject(doc)) return ['s.yaml: not a mapping'];
  if (doc.edition !== '3.0.0') errors.push(`edition: must be '3.0.0' (got ${JSON.stringify(doc.edition)})`);
  if (typeof doc.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(doc.name)) errors.push('name: letters, digits, _ and -');
  if (typeof doc.access !== 'string') errors.push('access: a credentials alias (string)');
  for (const k of Object.keys(doc)) if (!['edition', 'name', 'access', 'vars', 'resources'].includes(k)) errors.push(`${k}: unknown top-level property`);
  if (!isObject(doc.resources) || Object.keys(doc.resources).length === 0) return [...errors, 'resources: at least one resource'];
  const v = validators();
  for (const [name, res] of Object.entries(doc.resources)) {
    const at = `resources.${name}`;
    if (!isObject(res)) { errors.push(`${at}: not a mapping`); continue; }
    if (res.component !== 'fc3') errors.push(`${at}.component: must be fc3 (got ${JSON.stringify(res.component)})`);
    for (const k of Object.keys(res)) if (!['component', 'props', 'actions'].includes(k)) errors.push(`${at}.${k}: unknown property`);
    if (!v.props(res.props)) errors.push(...ajvErrors(v.props, `${at}.props`));
    const unknown = unknownProperties(FC3_SCHEMA, { ...res.props, triggers: undefined }, `${at}.props`) ?? [];
    const triggers = Array.isArray(res.props?.triggers) ? res.props.triggers : [];
    triggers.forEach((t, i) => {
      const tAt = `${at}.props.triggers[${i}]`;
      unknown.push(...(unknownProperties({ ...FC3_SCHEMA.definitions.ITrigger, properties: { ...FC3_SCHEMA.definitions.ITrigger.properties, triggerConfig: {} } }, t, tAt) ?? []));
      const def = TRIGGER_CONFIG_BY_TYPE[t?.triggerType];
      if (!def) return;
      const check = v.byType[t.triggerType];
      if (!check(t.triggerConfig)) errors.push(...ajvErrors(check, `${tAt}.triggerConfig`));
      unknown.push(...(unknownProperties({ $ref: `#/definitions/${def}` }, t.triggerConfig, `${tAt}.triggerConfig`) ?? []));
    });
    for (const p of unknown) errors.push(`${p}: unknown property (not in the fc3 schema)`);
  }
  return [...new Set(errors)];
}
