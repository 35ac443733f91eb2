// bin/code-cache.js: a CommonJS file runs from a V8 code cache made by an earlier run, each run a
// process of its own as a CLI call is. Checked on a small bundle of our own (the real one is
// dist/cli.cjs, which only exists after a build).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { SERVICE_FLAGS } from '../../bin/service.js'

const run = promisify(execFile)
const LOADER = pathToFileURL(resolve(import.meta.dirname, '../../bin/code-cache.js')).href
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-code-cache-'))
  // Uses CommonJS's require, its own file name, and an ES module through the loader's import().
  await writeFile(
    join(dir, 'bundle.cjs'),
    "const { basename } = require('node:path')\n" +
      'globalThis.__virtuosoImport("node:os").then((os) => ' +
      'console.log(JSON.stringify({ file: basename(__filename), eol: os.EOL === "\\n", x: module.exports.x })))\n' +
      'module.exports.x = 42\n',
  )
})
afterAll(() => rm(dir, { recursive: true, force: true }))

async function once(cacheDir: string, flags: string[] = []) {
  const main =
    `import { runCached } from ${JSON.stringify(LOADER)}\n` +
    `runCached(${JSON.stringify(join(dir, 'bundle.cjs'))}, ${JSON.stringify(cacheDir)}, (s) => import(s))\n`
  const r = await run(process.execPath, [...flags, '--input-type=module', '-e', main], {
    env: { ...process.env, VIRTUOSO_DEBUG: '1' },
  })
  return { out: JSON.parse(r.stdout), state: /code cache (\w+)/.exec(r.stderr)?.[1] }
}

it('makes the cache at the first run and compiles from it at the next', async () => {
  const cache = join(dir, 'cache')
  const first = await once(cache)
  expect(first).toEqual({ out: { file: 'bundle.cjs', eol: true, x: 42 }, state: 'none' })
  expect(await readdir(cache)).toHaveLength(1)
  const second = await once(cache)
  expect(second).toEqual({ out: first.out, state: 'accepted' })
})

it('remakes a cache V8 refuses, and a changed bundle drops the old one', async () => {
  const cache = join(dir, 'cache2')
  await once(cache)
  const [name] = await readdir(cache)
  await writeFile(join(cache, name), Buffer.alloc(64, 7))
  expect((await once(cache)).state).toBe('rejected')
  expect((await once(cache)).state).toBe('accepted')
  await writeFile(join(dir, 'bundle.cjs'), '// changed\n' + 'console.log(JSON.stringify({ changed: true }))\n')
  expect(await once(cache)).toEqual({ out: { changed: true }, state: 'none' })
  const names = await readdir(cache)
  expect(names).toHaveLength(1)
  expect(names[0]).not.toBe(name)
})

it("keeps another checkout's cache in a shared home", async () => {
  const cache = join(dir, 'cache3')
  await once(cache)
  const other = join(cache, 'cli-0123456789ab-v20.0.0-x64-1-1.v8')
  await writeFile(other, 'another bundle')
  await writeFile(join(dir, 'bundle.cjs'), 'console.log(JSON.stringify({ again: true }))\n')
  expect((await once(cache)).state).toBe('none')
  expect(await readdir(cache)).toContain('cli-0123456789ab-v20.0.0-x64-1-1.v8')
  expect(await readdir(cache)).toHaveLength(2)
})

it('keeps one cache per set of Node flags: a node (bin/service.js) and a CLI call do not remake each other', async () => {
  const cache = join(dir, 'cache4')
  await writeFile(join(dir, 'bundle.cjs'), 'console.log(JSON.stringify({ flags: true }))\n')
  expect((await once(cache)).state).toBe('none')
  expect((await once(cache, SERVICE_FLAGS)).state).toBe('none')
  expect(await readdir(cache)).toHaveLength(2)
  expect((await once(cache)).state).toBe('accepted')
  expect((await once(cache, SERVICE_FLAGS)).state).toBe('accepted')
})
