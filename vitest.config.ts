// Test projects: `unit` (fast, beside the code), `boot` (headless v86 boots in Node), `e2e` (Chromium).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['images/**/*.test.ts', 'worker/**/*.test.ts', 'web/**/*.test.ts', 'bench/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'boot', include: ['test/boot/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 1_800_000, fileParallelism: false } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 300_000, hookTimeout: 600_000, fileParallelism: false } },
    ],
  },
});
