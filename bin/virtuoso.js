#!/usr/bin/env node
// The `virtuoso` command. Runs the bundle in dist/ (scripts/build.js) when it is newer than every
// source file; otherwise loads the TypeScript through tsx, so an edit never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bundle = join(root, 'dist/cli.js')

function newestSource(dir) {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs)
  }
  return newest
}

const src = join(root, 'src')
if (existsSync(bundle) && (!existsSync(src) || statSync(bundle).mtimeMs >= newestSource(src))) {
  await import(pathToFileURL(bundle).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli.ts')
}
