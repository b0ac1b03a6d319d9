import { describe, expect, it } from 'vitest';
import type { RunningSandbox } from '../../../local/sandbox/server.ts';
import { HealthSweep } from '../../../shared/monitor/sweep.ts';
import type { WatchTarget } from '../../../shared/monitor/targets.ts';
import { onboardThroughFunctions, RecordingSink, sandboxClient, setHealth, tempFileStore } from '../../support/monitor.ts';
import { sandboxControl, sandboxForFile } from '../../support/sandbox-env.ts';

let sandbox: RunningSandbox;
sandboxForFile(20, (s) => (sandbox = s));

describe('a sweep under CAMS faults', () => {
  it('throttling 30 %, 5xx 5 % and added latency: completes (over ticks if needed) with no false alert', async () => {
    const { store, cleanup } = await tempFileStore();
    try {
      const space = await onboardThroughFunctions('299399000777', [{ cc: '86', phone: '13900000001' }]);
      const targets: WatchTarget[] = [{ CustSpaceId: space, NodeType: 'waba', WabaId: '299399000777' }];
      for (let i = 0; i < 59; i++) targets.push({ CustSpaceId: space, NodeType: 'template', TemplateCode: `tpl_${i}`, Language: 'en' });
      // The sandbox, like CAMS, knows only templates the space has.
      await sandboxControl(sandbox, 'PUT', '/__sandbox/templates', { CustSpaceId: space, Templates: targets.slice(1).map((t) => ({ TemplateCode: t.TemplateCode, Language: t.Language })) });
      // One real problem among them, so "no false alert" is not "no alert at all".
      await setHealth(sandbox, { CustSpaceId: space, NodeType: 'template', TemplateCode: 'tpl_7', Language: 'en', CanSendMessage: 'LIMITED' });
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', { throttleRate: 0.3, errorRate: 0.05, latencyMs: 40, seed: 11 });

      const sink = new RecordingSink();
      const reports = [];
      for (let tick = 0; tick < 3; tick++) {
        const report = await new HealthSweep({
          store,
          cams: sandboxClient(sandbox, 10),
          sinks: [sink],
          policy: { minConsecutive: 1, repeatIntervalMs: 3_600_000 },
          envTargets: targets,
          concurrency: 10,
          deadline: Date.now() + 15_000,
        }).run();
        reports.push(report);
        if (report.roundComplete) break;
      }
      expect(reports.at(-1)!.roundComplete).toBe(true);
      expect(reports.reduce((n, r) => n + r.checked, 0)).toBe(60);
      const items = sink.received.flatMap((n) => n.items);
      expect(items.map((i) => `${i.subject.entityType}:${i.subject.templateCode}:${i.status}`)).toEqual(['MESSAGE_TEMPLATE:tpl_7:LIMITED']);
      // The faults really happened: the sandbox throttled and failed some calls.
      const calls = (await sandboxControl(sandbox, 'GET', '/__sandbox/calls')) as Array<{ Code: string }>;
      expect(calls.some((c) => c.Code === 'System.LimitControl')).toBe(true);
      expect(calls.some((c) => c.Code !== 'OK' && c.Code !== 'System.LimitControl')).toBe(true);
    } finally {
      await sandboxControl(sandbox, 'PUT', '/__sandbox/faults', {});
      await cleanup();
    }
  }, 90_000);
});
