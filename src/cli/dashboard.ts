// Loads the dashboard. ink waits at the top level of one of its modules (yoga-layout), so only
// import() can load it, never require(); and the CLI bundle (dist/cli.cjs, CommonJS run from a V8
// code cache by bin/virtuoso.js) cannot call import() at all on Node 20. There the dashboard is its
// own ES module bundle (dist/tui.js) and the loader hands in its import(); run from the sources
// (tsx, tests) it is a plain import.
import type { runTui } from '../tui/app.tsx'

type Dashboard = { runTui: typeof runTui }

export function loadDashboard(): Promise<Dashboard> {
  const esm = (globalThis as { __virtuosoImport?: (spec: string) => Promise<Dashboard> }).__virtuosoImport
  return esm ? esm('tui.js') : import('../tui/app.tsx')
}
