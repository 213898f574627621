// ESLint flat config: typescript-eslint's recommended rules, plus the one architectural rule of
// this codebase: only src/extension (and the VS Code test tier) may import `vscode`. Everything
// else must run in the engine process, the CLI, a browser webview, or a plain unit test.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noVscode = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        {
          name: 'vscode',
          message: 'Only src/extension may import vscode; keep core, engine, protocol, backend, cli and webview host-independent.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'dist-vsix/**', 'media/build/**', 'node_modules/**', 'training/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/core/**', 'src/engine/**', 'src/protocol/**', 'src/backend/**', 'src/cli/**', 'src/webview/**', 'test/unit/**', 'test/engine/**'],
    rules: noVscode,
  },
  {
    // Stand-in engine processes for the client's failure tests: plain CommonJS run by Node.
    files: ['test/fixtures/**/*.js', 'training/tests/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', process: 'readonly', __dirname: 'readonly', setTimeout: 'readonly', console: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.mjs'],
    // Build scripts run in Node; these are the only globals they use.
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
