import { defineConfig } from 'vitest/config';

// Under CI a JSON report is written too: .ci/run reads it to print the "N passed, N failed" line.
const reporters = process.env.CI ? ['default', ['json', { outputFile: '.vitest-report.json' }]] : ['default'];

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: reporters as never,
  },
});
