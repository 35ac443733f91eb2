// Runs a CommonJS bundle from a V8 code cache. Every `virtuoso` call is a new process, and parsing
// and compiling the CLI's JavaScript was most of its CPU time (~0.1 s here, several times that when
// the machine is loaded); Node 20 has no module.enableCompileCache, so the bundle is compiled
// through vm.Script with the code V8 made on an earlier run (cachedData). The cache is made at exit,
// after the run compiled what it used, and only when there was none or V8 refused it (another Node,
// other V8 flags). Its name carries Node's version and the bundle's size and time, so a rebuilt
// bundle never meets an old cache. No cache (a read-only home) only costs the compile.
// Node 20 loses import()'s callback in a script compiled from cached data: the bundle must not call
// import(); the ES modules it needs arrive through `esmImport`, the loader's own import().
import vm from 'node:vm'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** Caches of the bundle at this path run with these Node flags (several checkouts may share a home, and a
 *  service runs with flags a CLI call has not: V8 refuses a cache made under other flags), of which a
 *  save keeps one. */
const prefix = (file) =>
  `cli-${createHash('sha256')
    .update(`${file}\0${process.execArgv.join(' ')}`)
    .digest('hex')
    .slice(0, 12)}-`

/** The cache file's name for this bundle under this Node. */
export function cacheName(file) {
  const st = statSync(file)
  return `${prefix(file)}${process.version}-${process.arch}-${st.size}-${Math.floor(st.mtimeMs)}.v8`
}

/**
 * Compiles `file` (CommonJS) with the cache in `cacheDir` and runs it. How the cache was used,
 * 'accepted', 'rejected' (then remade at exit) or 'none' (made at exit), is returned and, with
 * VIRTUOSO_DEBUG, printed.
 */
export function runCached(file, cacheDir, esmImport) {
  const name = cacheName(file)
  let cachedData
  try {
    cachedData = readFileSync(join(cacheDir, name))
  } catch {
    cachedData = undefined
  }
  const source = readFileSync(file, 'utf8')
  // The wrapper is on the bundle's first line, so line numbers in stack traces stay the bundle's.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`
  const script = new vm.Script(wrapped, { filename: file, cachedData })
  const state = !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'accepted'
  if (state !== 'accepted') process.once('exit', () => save(script, file, cacheDir, name))
  if (process.env.VIRTUOSO_DEBUG) process.stderr.write(`virtuoso: code cache ${state}\n`)
  globalThis.__virtuosoImport = esmImport
  const module = { exports: {} }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
  return state
}

/** Write atomically (a concurrent run reads a whole cache or none), and drop caches of older bundles. */
function save(script, file, cacheDir, name) {
  try {
    mkdirSync(cacheDir, { recursive: true })
    const tmp = join(cacheDir, `.${name}.${process.pid}`)
    writeFileSync(tmp, script.createCachedData())
    renameSync(tmp, join(cacheDir, name))
    for (const f of readdirSync(cacheDir))
      if (f.startsWith(prefix(file)) && f !== name) rmSync(join(cacheDir, f), { force: true })
  } catch {
    // A home we cannot write: the next run compiles again.
  }
}
