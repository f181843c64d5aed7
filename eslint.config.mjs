// Lint for the whole tree: the recommended sets, type-aware (promises nobody awaits or that
// land where a callback's result is ignored, values nobody uses).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // The two config files are CommonJS/ESM glue, not product code.
  { ignores: ['node_modules/', 'cdk.out/', 'dist/', 'coverage/', 'jest.config.js', 'eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
      '@typescript-eslint/no-unused-expressions': 'error',
      // Fakes and adapters implement Promise-returning ports without awaiting anything.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests, the offline stand-ins and the benchmark walk synthesized templates and state-machine
    // JSON by shape (typed `any` by CDK), and assert that shape; production code stays checked.
    files: ['test/**', 'local/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
