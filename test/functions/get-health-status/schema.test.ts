import { describe, expect, it } from 'vitest';
import { GetHealthStatusParams } from '../../../functions/get-health-status/schema.ts';
import { rejectionOf } from '../../support/schema.ts';

describe('get-health-status params', () => {
  it('accepts each NodeType with what it needs', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'waba', WabaId: '299399' })).toBeUndefined();
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000000' })).toBeUndefined();
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'template', TemplateCode: '939928', Language: 'en_US' })).toBeUndefined();
  });
  it('rejects an unknown NodeType naming the choices', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'business' })?.fields['NodeType']).toBe('must be one of waba, phone, template');
  });
  it.each([
    ['waba', {}, ['WabaId']],
    ['phone', {}, ['PhoneNumber']],
    ['template', {}, ['Language', 'TemplateCode']],
    ['template', { TemplateCode: 'x1' }, ['Language']],
  ] as const)('NodeType %s without %j → MissingParameter for %j', (NodeType, extra, missing) => {
    const r = rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType, ...extra });
    expect(r?.code).toBe('MissingParameter');
    expect(Object.keys(r!.fields).sort()).toEqual([...missing]);
    for (const f of missing) expect(r!.fields[f]).toBe(`is required when NodeType is ${NodeType}`);
  });
  it('rejects a malformed Language code', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'template', TemplateCode: 'x', Language: 'english' })?.fields['Language']).toContain('language code');
  });
});
