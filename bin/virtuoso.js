#!/usr/bin/env node
// The `virtuoso` command. Runs the bundle dist/cli.cjs (scripts/build.js) from a V8 code cache kept
// in ~/.virtuoso/cache (or $VIRTUOSO_HOME/cache) when the bundle is newer than every source file;
// otherwise loads the TypeScript through tsx, so an edit never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { runCached } from './code-cache.js'
import { needsServiceFlags, relaunchWithServiceFlags } from './service.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const bundle = join(root, 'dist/cli.cjs')

function newestSource(dir) {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }
  return newest
}

const src = join(root, 'src')
const args = process.argv.slice(2)
if (needsServiceFlags(args)) relaunchWithServiceFlags(fileURLToPath(import.meta.url), args)
else if (existsSync(bundle) && (!existsSync(src) || statSync(bundle).mtimeMs >= newestSource(src))) {
  const cacheDir = join(process.env.VIRTUOSO_HOME || join(homedir(), '.virtuoso'), 'cache')
  // The dashboard (ink) is an ES module bundle beside it, dist/tui.js: the bundle imports it through this.
  runCached(bundle, cacheDir, (spec) => import(pathToFileURL(join(root, 'dist', spec)).href))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli.ts')
}
