// bench/lib/bundle.ts: baselines and entries are bundled as the build bundles a function. An
// import() left in CommonJS output would load Node's ESM loader, which no function pays (a floor
// slowed that way once made four runs of function-cold-start wrong).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleCjs } from '../../bench/lib/bundle.ts';

const dir = mkdtempSync(join(tmpdir(), 'cams-fc-bench-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundleCjs', () => {
  it("turns import('node:x') into a require, loaded when reached", async () => {
    const entry = join(dir, 'builtin.ts');
    writeFileSync(entry, "export const platform = async (): Promise<string> => (await import('node:os')).platform();\n");
    const { file } = await bundleCjs(entry, join(dir, 'builtin.js'));
    expect(readFileSync(file, 'utf8')).not.toMatch(/(?<![\w$.])import\(/);
    const mod = createRequire(import.meta.url)(file) as { platform: () => Promise<string> };
    expect(await mod.platform()).toBe(process.platform);
  });

  it('refuses an import() left in the bundle, naming the entry and why', async () => {
    const entry = join(dir, 'computed.ts');
    writeFileSync(entry, "const name = ['node', 'os'].join(':');\nexport const load = (): Promise<unknown> => import(name);\n");
    await expect(bundleCjs(entry, join(dir, 'computed.js'))).rejects.toThrow(/computed\.ts: computed\.js keeps an import\(\) near .*Node's ESM loader/);
  });
});
