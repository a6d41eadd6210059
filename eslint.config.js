// ESLint (flat config) with typescript-eslint. `npm run lint`; test/lint runs it in `npm test`.
// Type-aware where it matters: no-floating-promises needs the types (tsconfig.check.json).
// Layout is Prettier's (.prettierrc.json, `npm run format`); ESLint checks correctness and style rules only.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/target/**',
      '**/coverage/**',
      '**/*.d.ts',
      'test/interop/**/vendor/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      // One program over sources, tests, benches and examples (the repository's own type-check config).
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // `let x!: T` assigned once after closures that read it were made.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Wire decoders loop on purpose (`while (true)` over a buffer); the loop exits by return.
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Library sources: one private-member style.
    files: ['packages/*/src/**/*.ts'],
    rules: {
      // One private-member style: ECMAScript #private (runtime-private, so internal state cannot be reached or
      // written from outside). `private constructor` stays allowed: it has no #private form.
      'no-restricted-syntax': [
        'error',
        {
          selector: "PropertyDefinition[accessibility='private'], TSParameterProperty[accessibility='private']",
          message: 'Use an ECMAScript #private field instead of the TypeScript `private` modifier.',
        },
        {
          selector: "MethodDefinition[accessibility='private'][kind!='constructor']",
          message: 'Use an ECMAScript #private method instead of the TypeScript `private` modifier.',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
      },
    },
  },
)
