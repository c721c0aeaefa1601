// Lint for bugs, not layout (prettier owns the layout). Type-aware on purpose: the rules that
// matter most here — a promise nobody awaits, an async callback handed to an API that ignores
// its promise, `await` on a non-promise, a switch that forgets a reason — need the type
// checker. It costs ~30 s of the test run on the 2-core CI box; one missed replay-store
// promise costs more.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Globals of the plain-JS scripts (bench/, examples/, generators): Node, and the DOM for the browser example. */
const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'TextEncoder',
    'TextDecoder',
    'fetch',
    'Headers',
    'Request',
    'Response',
    'AbortController',
    'AbortSignal',
    'performance',
    'structuredClone',
    'queueMicrotask',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'crypto',
  ].map((name) => [name, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.runtimes/**', 'test/conformance/vectors/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a parameter or a destructured-away member as unused on purpose
      // (`const { d: _private, ...publicJwk } = jwk`)
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // a union of reasons, algorithms or verdicts grows; every switch over one must notice
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      eqeqeq: ['error', 'smart'],
      // `let log; … (() => log?.())…; log = app.log`: a late binding read by a closure is not a const
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // rethrowing what a catch caught (unknown) is the point of `Promise.reject(error)`
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowArray: true }],
      // style, not bugs: an async function without await still keeps a Promise-returning contract
      '@typescript-eslint/require-await': 'off',
      // verifier, stamper, issuer and keys are closure objects: their methods are meant to be detached
      '@typescript-eslint/unbound-method': 'off',
      // `'socket' | string` documents the one special value; it is not a bug
      '@typescript-eslint/no-redundant-type-constituents': 'off',
      // tidy-up, not a bug, and autofixable: left for one `eslint --fix` pass (see the lead's note)
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // client/ and shared/ run in browsers: Node built-ins only behind *.node.ts
    files: ['client/**/*.ts', 'shared/**/*.ts'],
    ignores: ['**/*.node.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'client/ and shared/ are browser-safe: put Node-only code in a *.node.ts file.' }] },
      ],
    },
  },
  {
    // tests read JSON bodies and logs as they come; `any` there is the data under test, not a leak
    files: ['test/**/*.ts'],
    rules: {
      // an async `server.on('request')` or `socket.on('connect')` handler that throws is an
      // unhandled rejection, and vitest fails the run on one: in tests that is the wanted loudness
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: nodeGlobals },
  },
  {
    files: ['examples/browser/app.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', localStorage: 'readonly', indexedDB: 'readonly' } },
  },
);
