import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One build before every test file (tests themselves never rebuild).
    globalSetup: ['test/global-setup.ts'],
    // Real images and a real daemon: some tests take tens of seconds, minutes
    // on a loaded 2-core machine. Timeouts here are hang guards, not speed checks.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores: run files in parallel but not more than the machine has.
    maxWorkers: 2,
  },
});
