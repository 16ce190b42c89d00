import os from 'node:os'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Race and cross-process tests spawn children and wait on real locks; give them room on a busy 2-core CI box.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Files run in separate worker processes so one test file's store locks and fds never leak into another's.
    pool: 'forks',
    // Two files at once even on 2 cores (vitest's default there is one): most files wait on children, locks and
    // the disk more than they compute. Measured on the 2-core CI box: the suite took 460-490 s one file at a time,
    // 269 s two at a time. Every test waits on events (pause points, locks, child output), never on time, so the
    // extra load changes how long they take, not what they prove.
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    // In CI, also write a JSON report: .ci/run turns it into a plain "N passed, N failed" closing line.
    reporters: process.env.CI === 'true' ? ['default', 'json'] : ['default'],
    outputFile: { json: '.vitest-results.json' },
  },
})
