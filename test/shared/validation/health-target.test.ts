import { describe, expect, it } from 'vitest';
import type { HttpError } from '../../../shared/http-fn/errors.ts';
import { validateParams } from '../../../shared/http-fn/params.ts';
import { HealthNode } from '../../../shared/validation/health-target.ts';
import { rejectionOf } from '../../support/schema.ts';

describe('HealthNode (a watch target)', () => {
  it('names every problem at once: a field the NodeType needs is named beside another field\'s problem', () => {
    expect(rejectionOf(HealthNode, { NodeType: 'phone', TemplateCode: 'x1' })).toEqual({
      code: 'InvalidParameter',
      fields: { CustSpaceId: 'is required', PhoneNumber: 'is required when NodeType is phone', TemplateCode: 'names a template node: leave it out when NodeType is phone' },
    });
    expect(rejectionOf(HealthNode, { CustSpaceId: 'C1', NodeType: 'template', WabaId: 'x' })).toEqual({
      code: 'InvalidParameter',
      fields: { WabaId: expect.stringContaining('digits'), TemplateCode: 'is required when NodeType is template', Language: 'is required when NodeType is template' },
    });
  });
  it('a field of another NodeType refused for its value is named once, for its value', () => {
    let fields: unknown;
    try {
      validateParams(HealthNode, { CustSpaceId: 'C1', NodeType: 'phone', PhoneNumber: '8613800000000', TemplateCode: 'bad code!' });
    } catch (e) {
      fields = (e as HttpError).extra.fields;
    }
    expect(fields).toEqual([{ Field: 'TemplateCode', Message: expect.stringContaining('letters, digits') }]);
  });
});
