import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'coverage/**', 'test-artifacts/**', 'benchmarks/k6/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Imports go one way: core/ never imports api/ or indexer/.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/api/**', '**/indexer/**', '**/cli/**'] }],
    },
  },
  {
    files: ['api/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/indexer/**'] }] },
  },
  {
    files: ['indexer/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['**/api/**'] }] },
  },
  {
    files: ['tests/**/*.ts', 'benchmarks/**/*.ts', 'cli/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests read JSON response bodies loosely.
    files: ['tests/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The page's script runs in browsers.
    files: ['api/public/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'fetch', 'FormData', 'URL', 'URLSearchParams', 'Image', 'Blob', 'Headers', 'console'].map((name) => [name, 'readonly'])),
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    ignores: ['api/public/**'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
