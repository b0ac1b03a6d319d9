/**
 * client-cold-start, variant "ours": the smallest program that uses our CAMS client, bundled by the
 * benchmark (esbuild, minified, CommonJS) into a temp dir and run as a fresh process. One signed
 * GetWhatsappHealthStatus call to the sandbox named by CAMS_ENDPOINT, with the env's AccessKey;
 * exits 0 once the reply is in (exit 1 on any failure, so a broken call is never timed as a fast one).
 */
import { writeSync } from 'node:fs';
import { CamsClient } from '../../shared/cams/client.ts';

// Imports are evaluated before this line: the bundle is loaded.
const loaded = process.uptime() * 1000;
const env = process.env;
new CamsClient()
  .getHealthStatus({ CustSpaceId: env['BENCH_CUST_SPACE_ID'] ?? '', NodeType: 'waba', WabaId: env['BENCH_WABA_ID'] ?? '' })
  .then(
    ({ data }) => {
      const replied = process.uptime() * 1000;
      if (!data.CanSendMessage) throw new Error('no CanSendMessage in the reply');
      writeSync(2, `__BENCH_MARKS loaded=${loaded},replied=${replied}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  )
  .catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
