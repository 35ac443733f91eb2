#!/usr/bin/env node
// Bundles the CLI into dist/ (runs at `npm install` and before `npm test`). The bundle starts in
// ~0.2 s where loading the TypeScript through tsx takes ~1 s, and every CLI call pays that.
// bin/virtuoso.js uses the bundle only while it is newer than every source file, else tsx.
// The pure-JS transport packages (hyperdht and what it pulls in, protomux, compact-encoding) are
// bundled too: resolving and compiling ~200 small CommonJS files cost every CLI call ~0.1 s of CPU
// here. Packages with native parts, or that read files next to their own code (yargs' locales), and
// those only some commands load (ink, execa, ssh2, level) stay external and load from node_modules.
import { build } from 'esbuild'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
const EXTERNAL = new Set([
  ...['sodium-native', 'udx-native', 'classic-level', 'level', 'ssh2', 'cpu-features', 'node-gyp-build'],
  ...['require-addon', 'esbuild', 'tsx', 'ink', 'react', 'yargs', 'execa', '@xterm/headless'],
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

await rm(join(root, 'dist'), { recursive: true, force: true })
await build({
  entryPoints: [join(root, 'src/cli.ts')],
  outdir: join(root, 'dist'),
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [keepExternal],
  // Bundled CommonJS code requires the external native packages: give it a real require.
  banner: {
    js: "import { createRequire as __virtuosoRequire } from 'node:module'\nconst require = __virtuosoRequire(import.meta.url)",
  },
  jsx: 'automatic',
  sourcemap: 'linked',
  logLevel: 'warning',
})
