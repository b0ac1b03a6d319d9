import { describe, expect, it } from 'vitest';
import { parseMonitorTargets, targetId } from '../../../shared/monitor/targets.ts';

describe('targetId', () => {
  it('names what a target watches, whatever order its fields were written in', () => {
    expect(targetId({ NodeType: 'phone', CustSpaceId: 'C1', PhoneNumber: '8613800000000' })).toBe('phone:C1:8613800000000');
    expect(targetId({ CustSpaceId: 'C1', TemplateCode: 'T1', Language: 'en', NodeType: 'template' })).toBe('template:C1:T1/en');
    expect(targetId({ NodeType: 'waba', CustSpaceId: 'C1', WabaId: '123' })).toBe('waba:C1:123');
  });

  it('gives a waba target without WabaId (the space’s own WABA) an id without "undefined"', () => {
    const { targets, problems } = parseMonitorTargets(JSON.stringify([{ CustSpaceId: 'C1', NodeType: 'waba' }]));
    expect(problems).toEqual([]);
    expect(targetId(targets[0]!)).toBe('waba:C1:');
  });
});
