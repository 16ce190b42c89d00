// Lint: neostandard (the project's style: no semicolons, single quotes, space before function parens) with its
// TypeScript rules, plus typescript-eslint's type-aware promise rules: a floating promise in a store that races
// writers against verifiers is a lost error or a lock released too early, so these two are errors, not style.
import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'
import tseslint from 'typescript-eslint'

export default [
  ...neostandard({
    ts: true,
    noJsx: true,
    ignores: [...resolveIgnoresFromGitignore(), 'reports/**', '.stryker-tmp/**'],
  }),
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    rules: {
      // Long strings (test names, error messages that say what to do) stay whole so they can be grepped.
      '@stylistic/max-len': ['error', {
        code: 120, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true,
      }],
      // The code puts a trailing comma after the last parameter of a multi-line signature, as it does in objects.
      '@stylistic/comma-dangle': ['warn', {
        arrays: 'ignore',
        enums: 'ignore',
        exports: 'ignore',
        imports: 'ignore',
        objects: 'ignore',
        functions: 'only-multiline',
      }],
    },
  },
]
