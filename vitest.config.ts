import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Race and cross-process tests spawn children and wait on real locks; give them room on a busy 2-core CI box.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in separate worker processes so one test file's store locks and fds never leak into another's.
    pool: 'forks',
    // In CI, also write a JSON report: .ci/run turns it into a plain "N passed, N failed" closing line.
    reporters: process.env.CI === 'true' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-results.json' },
  },
})
