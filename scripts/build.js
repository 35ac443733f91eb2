#!/usr/bin/env node
// Bundles the CLI into dist/ (runs at `npm install` and before `npm test`). The bundle starts in
// ~0.2 s where loading the TypeScript through tsx takes ~1 s, and every CLI call pays that.
// bin/virtuoso.js uses the bundle only while it is newer than every source file, else tsx.
import { build } from 'esbuild'
import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = fileURLToPath(new URL('..', import.meta.url))
await rm(join(root, 'dist'), { recursive: true, force: true })
await build({
  entryPoints: [join(root, 'src/cli.ts')],
  outdir: join(root, 'dist'),
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  jsx: 'automatic',
  sourcemap: 'linked',
  logLevel: 'warning',
})
