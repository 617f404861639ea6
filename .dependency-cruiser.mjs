// The import directions of docs/architecture.md, checked by `npm run lint` (so by `npm test` and CI).
// Each rule's name says what it protects; a violation prints that name and both files.

// Tests and the helpers only tests use: they may reach further than production code does.
const TEST_FILE = [
  '^test/',
  '\\.test\\.ts$',
  '(^|/)contract\\.ts$',
  '(^|/)test-fixtures\\.ts$',
  '^infra/testing/',
];
// The tests that live beside the code of adapters/ and jobs/ (production files there have their own rule).
const ROOM_TEST = [
  '^(adapters|jobs)/.*\\.test\\.ts$',
  '^(adapters|jobs)/(.*/|)(contract|test-fixtures)\\.ts$',
];
// What ships or deploys. Benchmarks and the root config files are neither.
const PRODUCTION_ROOM = '^(adapters|jobs|infra|sql|scripts)/';
// The one file of scripts/ a room's tests may read: where the shared test services listen.
const SERVICES_ENV = '^scripts/services/env\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'An import cycle: the modules can only be understood, tested and loaded together. Break it by moving the ' +
        'shared part into a module both import.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'adapters-know-no-job',
      severity: 'error',
      comment:
        'adapters/ is the bottom room: it knows no job, no cloud stack, no SQL and no benchmark, in tests too.',
      from: { path: '^adapters/' },
      to: { path: '^(jobs|infra|sql|bench)/' },
    },
    {
      name: 'jobs-know-no-infra',
      severity: 'error',
      comment:
        'jobs/ runs the same on every cloud: it never reads the Pulumi stacks or the benchmarks, in tests too ' +
        '(infra/ reads the jobs through jobs/catalog.ts, not the other way round).',
      from: { path: '^jobs/' },
      to: { path: '^(infra|bench)/' },
    },
    {
      name: 'code-needs-no-scripts-or-test',
      severity: 'error',
      comment:
        'Runtime code of adapters/ and jobs/ ships in the image without scripts/ and test/ (scripts/image/assemble.sh).',
      from: { path: '^(adapters|jobs)/', pathNot: TEST_FILE },
      to: { path: '^(scripts|test)/' },
    },
    {
      name: 'tests-use-only-services-env-from-scripts',
      severity: 'error',
      comment:
        'A test of adapters/ or jobs/ may read where the test services listen (scripts/services/env.ts), the ' +
        'build it checks a committed artefact against (scripts/wasm/build.ts) and the helpers in test/, nothing ' +
        'else of scripts/.',
      from: { path: ROOM_TEST },
      to: { path: '^scripts/', pathNot: [SERVICES_ENV, '^scripts/wasm/build\\.ts$'] },
    },
    {
      name: 'infra-reads-jobs-only-through-catalog',
      severity: 'error',
      comment:
        'infra/ learns what the jobs need (schedules, resources, settings, topics) from jobs/catalog.ts only, so ' +
        'the jobs can change inside without touching the stacks.',
      from: { path: '^infra/' },
      to: { path: '^jobs/', pathNot: '^jobs/catalog\\.ts$' },
    },
    {
      name: 'dialects-stand-alone',
      severity: 'error',
      comment: 'sql/dialects/ is shared by the jobs and the warehouses: it imports neither jobs/ nor infra/.',
      from: { path: '^sql/dialects/' },
      to: { path: '^(jobs|infra)/' },
    },
    {
      name: 'imports-resolve',
      severity: 'error',
      comment:
        'Every rule above is only as good as the resolved graph: an import the checker cannot follow would pass ' +
        'them all unseen.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'production-imports-no-test-file',
      severity: 'error',
      comment: 'Production code never imports a test, a contract suite, a fixture or a test helper.',
      from: { path: PRODUCTION_ROOM, pathNot: TEST_FILE },
      to: { path: TEST_FILE },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // A type-only import couples two modules as much as a value import does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.mjs', '.json'],
      // Resolve packages the way Node resolves this ES-module code ("exports" with import conditions).
      exportsFields: ['exports'],
      conditionNames: ['node', 'import', 'default'],
    },
  },
};
