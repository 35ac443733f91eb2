#!/usr/bin/env node
// Bundles the CLI into dist/ (runs at `npm install` and before `npm test`): dist/cli.cjs, one
// CommonJS file that bin/virtuoso.js runs from a V8 code cache (bin/code-cache.js), and dist/tui.js,
// the dashboard as an ES module (ink can only be import()ed). Every CLI call is a new process: from
// the TypeScript through tsx one took ~1 s, from the ES module bundle ~0.2 s of CPU, from the
// CommonJS bundle and its code cache ~0.1 s.
// bin/virtuoso.js uses the bundle only while it is newer than every source file, else tsx.
// The pure-JS packages (hyperdht and what it pulls in, protomux, compact-encoding, yargs) are
// bundled too, so the code cache covers them: resolving and compiling ~200 small CommonJS files cost
// every CLI call ~0.1 s of CPU here. Packages with native parts, ES-module-only ones (ink, execa)
// and those only some commands load (ssh2, level) stay external and load from node_modules.
// yargs reads its translations from files beside its own code; bundled, it finds none and speaks
// English, as the rest of the CLI does.
import { build } from 'esbuild'
import { copyFile, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const EXTERNAL = new Set([
  ...['sodium-native', 'udx-native', 'classic-level', 'level', 'ssh2', 'cpu-features', 'node-gyp-build'],
  ...['require-addon', 'esbuild', 'tsx', 'ink', 'react', 'execa', '@xterm/headless'],
])
const packageName = (spec) =>
  spec
    .split('/')
    .slice(0, spec.startsWith('@') ? 2 : 1)
    .join('/')
const keepExternal = {
  name: 'keep-external',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (a) =>
      a.path.startsWith('node:') || EXTERNAL.has(packageName(a.path)) ? { path: a.path, external: true } : undefined,
    )
  },
}

// The CLI bundle leaves the dashboard out: it is dist/tui.js, loaded by src/cli/dashboard.ts.
const dashboardApart = {
  name: 'dashboard-apart',
  setup(b) {
    b.onResolve({ filter: /\/tui\/app\.tsx$/ }, (a) => ({ path: a.path, external: true }))
  },
}
const common = { bundle: true, platform: 'node', target: 'node20', jsx: 'automatic', sourcemap: 'linked' }

await rm(join(root, 'dist'), { recursive: true, force: true })
const cli = await build({
  ...common,
  metafile: true,
  entryPoints: [join(root, 'src/cli.ts')],
  outfile: join(root, 'dist/cli.cjs'),
  format: 'cjs',
  plugins: [keepExternal, dashboardApart],
  // The sources are ES modules: import.meta.url is the bundle's own URL.
  define: { 'import.meta.url': '__virtuosoUrl' },
  banner: { js: "const __virtuosoUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
})
// Node 20 loses import()'s callback in a script compiled from cached data (bin/code-cache.js): an
// import() left in the CLI bundle would fail at run time, so it fails the build.
for (const out of Object.values(cli.metafile.outputs))
  for (const i of out.imports)
    if (i.kind === 'dynamic-import' && !i.path.endsWith('/tui/app.tsx'))
      throw new Error(`dist/cli.cjs would import("${i.path}"): load it statically or through src/cli/dashboard.ts`)
await build({
  ...common,
  entryPoints: [join(root, 'src/tui/app.tsx')],
  outfile: join(root, 'dist/tui.js'),
  format: 'esm',
  plugins: [keepExternal],
  // Bundled CommonJS code requires the external native packages: give it a real require.
  banner: {
    js: "import { createRequire as __virtuosoRequire } from 'node:module'\nconst require = __virtuosoRequire(import.meta.url)",
  },
  logLevel: 'warning',
})
// Worker threads' files (plain JavaScript), which the code finds beside itself: src/ or dist/.
await copyFile(join(root, 'src/vmmp/hash-worker.mjs'), join(root, 'dist/hash-worker.mjs'))
