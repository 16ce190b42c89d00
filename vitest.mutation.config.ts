import { configDefaults, defineConfig, mergeConfig } from 'vitest/config'
import base from './vitest.config.js'

/*
 * The suite as `npm run test:mutation` (StrykerJS) runs it. Stryker activates a mutant inside the test process
 * only: a child process (a fixture, the `cas` CLI, pnpm) runs the unmutated code, so tests whose work happens in
 * children cannot kill a mutant. They are also the slow ones (seconds each, a 1 GiB stream), and Stryker reruns
 * every test that covers a mutant, so they are left out here; `npm test` runs them.
 */
export default mergeConfig(base, defineConfig({
  test: {
    exclude: [
      ...configDefaults.exclude,
      'test/cli/**',
      'test/bench/**',
      'test/pkgIndex/**',
      'test/races/crossProcessWritersAndVerifiers*.test.ts',
      'test/races/samePidTwoContainers.test.ts',
      'test/races/sigkillMidWrite.test.ts',
      'test/races/sigkillMidImport.test.ts',
      'test/races/concurrentImportersOneTarget.test.ts',
      'test/ensure/{fourProcessesOneDownload,sigkilledDownloaderReleases,refetchWhenFilesRemoved}.test.ts',
      'test/ensure/pnpmInstallsFromEnsuredStore.test.ts',
      'test/write/fdExhaustion.test.ts',
      'test/write/largeStream.test.ts',
    ],
  },
}))
