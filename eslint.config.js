// Lint: recommended JS/TS rules and Svelte's; type checking itself is tsc's and svelte-check's job.
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import ts from 'typescript-eslint';

export default ts.config(
  { ignores: ['images/dist/**', 'dist/**', 'node_modules/**', 'test-results/**', '**/*.tmp.ts'] },
  js.configs.recommended,
  ...ts.configs.recommended,
  ...svelte.configs.recommended,
  { languageOptions: { globals: { ...globals.browser, ...globals.node } } },
  { files: ['**/*.svelte', '**/*.svelte.ts'], languageOptions: { parserOptions: { parser: ts.parser } } },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-control-regex': 'off', // serial and terminal text is full of control characters on purpose
      // State classes keep private, non-reactive bookkeeping (listener sets, decoders, scratch maps);
      // what the UI reads is in $state fields.
      'svelte/prefer-svelte-reactivity': 'off',
    },
  },
);
