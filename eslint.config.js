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
  // Imports point down only: web → worker → images (../shared/DESIGN.md). Tests may reach anywhere.
  {
    files: ['images/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+(worker|web)/', message: 'images/ is the bottom layer: it imports neither worker/ nor web/.' }] }],
    },
  },
  {
    files: ['worker/**/*.ts', 'bench/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+web/', message: 'worker/ never imports web/: the page drives the worker, not the other way round.' }] }],
    },
  },
  {
    files: ['web/**/*.ts', 'web/**/*.svelte'],
    ignores: ['**/*.test.ts'],
    rules: {
      // Only types cross into the page, except the modules it drives directly: the bridge (one per
      // worker), the image store and its content addressing (the page writes what the worker reads),
      // the stats and boot-phase durations shared with the compare CLI, and the serial text window the
      // script runner uses too, the host share's name rules (share-path), and the network's modes and
      // addresses (network). None of them pulls v86 into the UI bundle.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+worker/(?!(bridge|image-store|artifacts|stats|phases|serial-text|guest-messages|share-path|network)\\.ts$)',
              allowTypeImports: true,
              message: 'web/ imports worker/ only as `import type` (besides bridge, image-store, artifacts, stats, phases, serial-text, guest-messages, share-path and network): worker code stays out of the UI bundle.',
            },
          ],
        },
      ],
    },
  },
);
