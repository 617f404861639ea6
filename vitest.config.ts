import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'data/**', '.services/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // PGlite instances are heavy (wasm heap per instance); two workers fit 2 cores.
    maxWorkers: 2,
  },
});
