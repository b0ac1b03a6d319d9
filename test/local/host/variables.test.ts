import { describe, expect, it } from 'vitest';
import { resolveVariables, VariableError, type VariableSources } from '../../../local/host/variables.ts';

const sources = (env: Record<string, string> = {}, options: Record<string, string> = {}): VariableSources => ({ env, options });

describe('serverless v3 variables', () => {
  it('env with and without a fallback; an empty env value is a value, not a miss', () => {
    const doc = { a: "${env:A, 'dflt'}", b: "${env:B, 'dflt'}", c: "${env:C, ''}", d: '${env:D}' };
    expect(resolveVariables(doc, sources({ A: 'set', C: '', D: 'dee' }))).toEqual({ a: 'set', b: 'dflt', c: '', d: 'dee' });
    expect(resolveVariables({ e: "${env:E, ''}" }, sources({ E: '' }))).toEqual({ e: '' });
  });

  it('a missing variable without fallback is an error naming the property', () => {
    expect(() => resolveVariables({ provider: { x: '${env:NOPE}' } }, sources())).toThrow(/provider\.x.*NOPE|provider\.x.*env/);
    expect(() => resolveVariables({ x: '${env:NOPE}' }, sources())).toThrow(VariableError);
  });

  it('opt:stage, sls:stage and provider.stage', () => {
    const doc = { provider: { stage: "${opt:stage, 'dev'}" }, a: '${sls:stage}', b: 'q-${sls:stage}' };
    expect(resolveVariables(doc, sources())).toEqual({ provider: { stage: 'dev' }, a: 'dev', b: 'q-dev' });
    expect(resolveVariables(doc, sources({}, { stage: 'prod' }))).toEqual({ provider: { stage: 'prod' }, a: 'prod', b: 'q-prod' });
    expect(resolveVariables({ a: '${sls:stage}' }, sources())).toEqual({ a: 'dev' });
  });

  it('self references, several variables in one string, and nested fallbacks', () => {
    const doc = {
      service: 'svc',
      provider: { region: 'ap-southeast-1', stage: 'dev' },
      arn: 'acs:fc:${self:provider.region}:*:services/${self:service}-${sls:stage}/functions/x',
      nested: "${env:A, ${env:B, 'last'}}",
      bare: "${env:A, env:B, 'z'}",
      whole: '${self:provider}',
      num: '${env:N, 15}',
    };
    expect(resolveVariables(doc, sources({ B: 'bee' }))).toMatchObject({
      arn: 'acs:fc:ap-southeast-1:*:services/svc-dev/functions/x',
      nested: 'bee',
      bare: 'bee',
      whole: { region: 'ap-southeast-1', stage: 'dev' },
      num: 15,
    });
    expect(resolveVariables({ n: "${env:A, ${env:B, 'last'}}" }, sources())).toEqual({ n: 'last' });
  });

  it('self references that themselves hold variables, and cycles', () => {
    expect(resolveVariables({ a: '${self:b}-x', b: '${env:B}' }, sources({ B: 'bee' }))).toEqual({ a: 'bee-x', b: 'bee' });
    expect(() => resolveVariables({ a: '${self:b}', b: '${self:a}' }, sources())).toThrow(/circular/);
  });

  it('refuses sources the host does not have', () => {
    expect(() => resolveVariables({ a: '${ssm:/x}' }, sources())).toThrow(/"ssm" is not supported/);
    expect(() => resolveVariables({ a: '${file(./x.yml)}' }, sources())).toThrow(VariableError);
    expect(() => resolveVariables({ a: '${env:A' }, sources())).toThrow(/unterminated/);
  });

  it('leaves plain values alone', () => {
    const doc = { a: 1, b: true, c: null, d: ['x', { e: 'f' }], g: 'no vars $ here {}' };
    expect(resolveVariables(doc, sources())).toEqual(doc);
  });
});
