// The layer rules of issue 10, checked by `npm run lint` (dependency-cruiser: a maintained tool made
// for exactly this; ESLint's import plugins check cycles slowly and express layers awkwardly).
// Layers, top to bottom; an import never runs up, and rooms on one layer import each other one way:
//   cli, tui  ->  hub, provider, client  ->  vmmp, console, vnet  ->  market, hv  ->  net  ->  base
// (base = src/*.ts beside cli.ts: errors, root, secret-file, lines; and src/types/).
const room = (names) => `^src/(${names.join('|')})(/|\\.ts$)`
const LAYERS = [['cli', 'tui'], ['hub', 'provider', 'client'], ['vmmp', 'console', 'vnet'], ['market', 'hv'], ['net']]
const BASE = '^src/[^/]+\\.ts$'
const above = (i) => LAYERS.slice(0, i).flat()

const upward = LAYERS.slice(1).map((rooms, i) => ({
  name: `no-up-from-${rooms.join('-')}`,
  comment: `${rooms.join(', ')} may not import a layer above it (${above(i + 1).join(', ')})`,
  severity: 'error',
  from: { path: room(rooms) },
  to: { path: room(above(i + 1)) },
}))

// Within a layer, one direction only, so rooms never form a cycle.
const sideways = [
  ['tui', 'cli'],
  ['hub', 'provider'],
  ['hub', 'client'],
  ['provider', 'client'],
  ['client', 'provider'],
  ['console', 'vmmp'],
  ['vnet', 'vmmp'],
  ['console', 'vnet'],
  ['hv', 'market'],
].map(([from, to]) => ({
  name: `no-${from}-to-${to}`,
  comment: `${from} may not import ${to} (they share a layer; ${to} -> ${from} is the allowed direction)`,
  severity: 'error',
  from: { path: room([from]) },
  to: { path: room([to]) },
}))

module.exports = {
  forbidden: [
    ...upward,
    ...sideways,
    {
      name: 'base-imports-nothing-of-ours',
      severity: 'error',
      from: { path: BASE, pathNot: '^src/cli\\.ts$' },
      to: { path: '^src/', pathNot: [BASE, '^src/types/'] },
    },
    {
      name: 'market-is-pure',
      comment: 'the market is rules over a store: no transport, no node roles (issue 10)',
      severity: 'error',
      from: { path: room(['market']) },
      to: { path: room(['net', 'hub', 'provider', 'client']) },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-never-imports-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
}
