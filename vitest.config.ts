import { defineConfig } from 'vitest/config';

// Unit tests live beside the code (*.test.ts); integration and end-to-end suites under test/.
// Real servers (PostgreSQL, etcd) are slow to start, so allow generous hook/test timeouts.
export default defineConfig({
  test: {
    include: ['core/src/**/*.test.ts', 'plugins/*/src/**/*.test.ts', 'cli/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
