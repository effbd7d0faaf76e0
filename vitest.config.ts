import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    typecheck: { enabled: false },
    testTimeout: 30_000,
    env: { AMPSTATE_LOG_LEVEL: 'silent' },
    hookTimeout: 30_000,
  },
});
