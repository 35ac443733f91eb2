// The package's own directory (where fixtures/ lives), found by walking up from this module, so the
// same code works when run from src/ through tsx and from the bundle in dist/.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

let cached: string | null = null

export function packageRoot(): string {
  if (cached) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const pkg = join(dir, 'package.json')
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'virtuoso') return (cached = dir)
    const up = dirname(dir)
    if (up === dir)
      throw new Error('cannot find the virtuoso package directory above ' + fileURLToPath(import.meta.url))
    dir = up
  }
}

/** bin/virtuoso.js: what a child `virtuoso` process runs. Here, not in cli/child.ts, so a command that
 *  only names it (ssh's ProxyCommand) does not load execa (~0.1 s of CPU per call). */
export function virtuosoBin(): string {
  return join(packageRoot(), 'bin/virtuoso.js')
}
