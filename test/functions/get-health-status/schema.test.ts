import { describe, expect, it } from 'vitest';
import { GetHealthStatusParams } from '../../../functions/get-health-status/schema.ts';
import { validateParams } from '../../../shared/http-fn/params.ts';
import { rejectionOf } from '../../support/schema.ts';

// WhatsApp's template languages (Meta, "Supported languages"), every one must pass.
const WHATSAPP_LANGUAGES = [
  'af', 'sq', 'ar', 'ar_EG', 'ar_AE', 'ar_LB', 'ar_MA', 'ar_QA', 'az', 'be_BY', 'bn', 'bn_IN', 'bg', 'ca', 'zh_CN', 'zh_HK', 'zh_TW',
  'hr', 'cs', 'da', 'prs_AF', 'nl', 'nl_BE', 'en', 'en_GB', 'en_US', 'en_AE', 'en_AU', 'en_CA', 'en_GH', 'en_IE', 'en_IN', 'en_JM',
  'en_MY', 'en_NZ', 'en_QA', 'en_SG', 'en_UG', 'en_ZA', 'et', 'fil', 'fi', 'fr', 'fr_BE', 'fr_CA', 'fr_CH', 'fr_CI', 'fr_MA', 'ka',
  'de', 'de_AT', 'de_CH', 'el', 'gu', 'ha', 'he', 'hi', 'hu', 'id', 'ga', 'it', 'ja', 'kn', 'kk', 'rw_RW', 'ko', 'ky_KG', 'lo', 'lv',
  'lt', 'mk', 'ms', 'ml', 'mr', 'nb', 'ps_AF', 'fa', 'pl', 'pt_BR', 'pt_PT', 'pa', 'ro', 'ru', 'sr', 'si_LK', 'sk', 'sl', 'es', 'es_AR',
  'es_CL', 'es_CO', 'es_CR', 'es_DO', 'es_EC', 'es_HN', 'es_MX', 'es_PA', 'es_PE', 'es_ES', 'es_UY', 'sw', 'sv', 'ta', 'te', 'th',
  'tr', 'uk', 'ur', 'uz', 'vi', 'zu',
];
const template = (Language: unknown) => ({ CustSpaceId: 'C1', NodeType: 'template', TemplateCode: '939928', Language });

describe('get-health-status params', () => {
  it('accepts each NodeType with what names its node; WabaId is optional for waba (the space\'s own WABA)', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'waba' })).toBeUndefined();
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'waba', WabaId: '299399' })).toBeUndefined();
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000000' })).toBeUndefined();
    expect(rejectionOf(GetHealthStatusParams, template('en_US'))).toBeUndefined();
  });
  it('a missing or empty NodeType or CustSpaceId is MissingParameter', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1' })).toEqual({ code: 'MissingParameter', fields: { NodeType: 'is required' } });
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: '' })).toEqual({ code: 'MissingParameter', fields: { NodeType: 'is required' } });
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: ' ', NodeType: 'waba' })).toEqual({ code: 'MissingParameter', fields: { CustSpaceId: 'is required' } });
  });
  it('rejects an unknown NodeType naming the choices', () => {
    expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'business' })).toEqual({
      code: 'InvalidParameter',
      fields: { NodeType: 'must be one of waba, phone, template' },
    });
  });
  it.each([
    ['phone', {}, ['PhoneNumber']],
    ['phone', { PhoneNumber: '' }, ['PhoneNumber']],
    ['template', {}, ['Language', 'TemplateCode']],
    ['template', { TemplateCode: 'x1' }, ['Language']],
  ] as const)('NodeType %s with %j → MissingParameter for %j', (NodeType, extra, missing) => {
    const r = rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType, ...extra });
    expect(r?.code).toBe('MissingParameter');
    expect(Object.keys(r!.fields).sort()).toEqual([...missing]);
    for (const f of missing) expect(r!.fields[f]).toBe(`is required when NodeType is ${NodeType}`);
  });
  it.each([
    [{ NodeType: 'phone' }, 'MissingParameter', { CustSpaceId: 'is required', PhoneNumber: 'is required when NodeType is phone' }],
    [
      { CustSpaceId: 'bad id!', NodeType: 'template' },
      'InvalidParameter',
      { CustSpaceId: expect.stringContaining('letters, digits'), TemplateCode: 'is required when NodeType is template', Language: 'is required when NodeType is template' },
    ],
    [{ CustSpaceId: 'C1', NodeType: 'phone', WabaId: 'x' }, 'InvalidParameter', { WabaId: expect.stringContaining('digits'), PhoneNumber: 'is required when NodeType is phone' }],
  ] as const)('%j: every problem named at once, the NodeType\'s missing fields beside another field\'s problem', (params, code, fields) => {
    expect(rejectionOf(GetHealthStatusParams, params)).toEqual({ code, fields });
  });
  it('a NodeType that is not one names NodeType alone (no field is required by it)', () => {
    expect(rejectionOf(GetHealthStatusParams, { NodeType: 'business' })).toEqual({
      code: 'InvalidParameter',
      fields: { CustSpaceId: 'is required', NodeType: 'must be one of waba, phone, template' },
    });
  });
  it.each([
    ['waba', { PhoneNumber: '8613800000000' }],
    ['waba', { TemplateCode: 'x1', Language: 'en' }],
    ['phone', { PhoneNumber: '8613800000000', Language: 'en' }],
    ['template', { TemplateCode: 'x1', Language: 'en', PhoneNumber: '8613800000000' }],
    ['waba', { PhoneNumber: '+86 138-0000-0000' }],
    ['phone', { PhoneNumber: '8613800000000', TemplateCode: 'not an id!', Language: 'English' }],
    ['template', { TemplateCode: 'x1', Language: 'en', PhoneNumber: '+8613800000000' }],
  ] as const)('NodeType %s with %j, a field of another NodeType: left out of the call unchecked, as CAMS ignores it whatever its form (the watch list alone refuses it)', (NodeType, extra) => {
    const own = Object.fromEntries(Object.entries(extra).filter(([k]) => ({ waba: [], phone: ['PhoneNumber'], template: ['TemplateCode', 'Language'] })[NodeType].includes(k as never)));
    expect(validateParams(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType, ...extra })).toEqual({ CustSpaceId: 'C1', NodeType, ...own });
  });
  it('a field of another NodeType, however malformed, hides no problem of the request: the others are named at once', () => {
    expect(rejectionOf(GetHealthStatusParams, { NodeType: 'phone', PhoneNumber: '+8613800000000', TemplateCode: 'bad id!' })).toEqual({
      code: 'InvalidParameter',
      fields: { CustSpaceId: 'is required', PhoneNumber: expect.stringContaining('country code first') },
    });
  });
  it('takes PhoneNumber as the seed does: country code first, E.164 digits, at most 15', () => {
    for (const PhoneNumber of ['8613800000000', '6590001234', '447911123456', '123456789012345']) {
      expect(validateParams(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber })).toMatchObject({ PhoneNumber });
    }
    for (const PhoneNumber of ['1234567890123456', '+8613800000000', '08613800000', '86 138 0000 0000']) {
      expect(rejectionOf(GetHealthStatusParams, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber })?.fields['PhoneNumber']).toContain('country code first');
    }
  });
  it.each(WHATSAPP_LANGUAGES)('takes the WhatsApp template language %s', (Language) => {
    expect(validateParams(GetHealthStatusParams, template(Language))).toMatchObject({ Language });
  });
  it.each(['english', 'en-US', 'EN', 'en_us', 'e', 'zh_Hans'])('rejects %j as a language code', (Language) => {
    expect(rejectionOf(GetHealthStatusParams, template(Language))?.fields['Language']).toContain('language code');
  });
});
