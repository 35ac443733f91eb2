// ESLint (flat config) with typescript-eslint: the rules issue 10 asks for, not style (Prettier owns
// layout). Layer order and cycles are dependency-cruiser's job (.dependency-cruiser.cjs).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import reactHooks from 'eslint-plugin-react-hooks'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'fixtures/**/build/**', '.virtuoso-demo/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: globals.node } },
  {
    files: ['**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      // The wire is untyped JSON: `any` at those edges is deliberate and checked by hand.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    // Small files, short lines (issue 10: no source line over 120 characters, no file over 400 lines).
    files: ['src/**/*.{ts,tsx}'],
    rules: {
      'max-len': ['error', { code: 120, ignoreUrls: false }],
      'max-lines': ['error', { max: 400 }],
    },
  },
)
