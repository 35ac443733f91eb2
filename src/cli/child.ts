// A `virtuoso …` child process whose stdout is read line by line, so a parent (the demo, the
// end-to-end tests) can wait for what it prints ("market key: …") and stop it with a signal.
import { LineReader } from '../lines.ts'
import { execa, type ResultPromise } from 'execa'
import { virtuosoBin } from '../root.ts'
import { SERVICE_FLAGS, startsNode } from '../../bin/service.js'

export const VIRTUOSO_BIN = virtuosoBin()

export interface Child {
  proc: ResultPromise
  lines: string[]
  /** stderr lines, unless stderr goes to a file. */
  errLines: string[]
  /** Wait for a stdout line matching re; rejects if the process exits first or after timeoutMs. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  stop(signal?: NodeJS.Signals): Promise<number | undefined>
}

export interface SpawnOptions {
  env?: Record<string, string>
  stderrFile?: string
  /** Node's arguments before `args` (default: bin/virtuoso.js); tests name a test-only entry here. */
  entry?: string[]
  /** Own process group (signals to the parent's group miss it), and it exits when the parent's end of
   *  its stdin closes, even if the parent was killed with SIGKILL (VIRTUOSO_EXIT_WITH_STDIN). */
  tiedToParent?: boolean
}

export interface ProviderNode {
  data: string
  market: string
  bootstrap: string
  hv: string
  /** More flags, after the others (the demo and the tests pass a low --scrypt-cost). */
  extra?: string[]
}

/** `virtuoso node` arguments for a provider of `market`, as the demo and the end-to-end tests start one.
 *  Guests run under TCG: /dev/kvm exists on the machines we run on, but guests hang under it. */
export function providerNodeArgs(p: ProviderNode): string[] {
  const where = ['--data', p.data, '--market', p.market, '--bootstrap', p.bootstrap]
  return ['node', ...where, '--hv', p.hv, '--accel', 'tcg', ...(p.extra ?? [])]
}

/** How long `stop` waits for a clean exit before SIGKILL (a node gives up on its own after 4 s). */
export const STOP_GRACE_MS = 6000

export function spawnVirtuoso(args: string[], opts: SpawnOptions = {}): Child {
  const tied = !!opts.tiedToParent
  // A node gets its flags here, so that no stand-in process runs in front of it (bin/service.js).
  const flags = startsNode(args) ? SERVICE_FLAGS : []
  const proc = execa('node', [...flags, ...(opts.entry ?? [VIRTUOSO_BIN]), ...args], {
    env: { ...opts.env, VIRTUOSO_DEBUG: '', ...(tied ? { VIRTUOSO_EXIT_WITH_STDIN: '1' } : {}) },
    reject: false,
    buffer: false,
    cleanup: !tied,
    detached: tied,
    ...(opts.stderrFile ? { stderr: { file: opts.stderrFile } } : {}),
  })
  const lines: string[] = []
  const errLines: string[] = []
  const waiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = []
  const feed = (stream: NodeJS.ReadableStream | null | undefined, into: string[], check: boolean) => {
    const reader = new LineReader((line) => {
      into.push(line)
      if (!check) return
      for (const w of [...waiters]) {
        const m = line.match(w.re)
        if (m) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(m)
        }
      }
    })
    stream?.setEncoding?.('utf8')
    stream?.on('data', (chunk: string) => reader.push(chunk))
  }
  feed(proc.stdout, lines, true)
  if (!opts.stderrFile) feed(proc.stderr, errLines, false)
  const where = opts.stderrFile ? `see ${opts.stderrFile}` : `stderr: ${errLines.slice(-5).join(' | ')}`
  return {
    proc,
    lines,
    errLines,
    waitFor(re, timeoutMs = 30_000) {
      for (const l of lines) {
        const m = l.match(re)
        if (m) return Promise.resolve(m)
      }
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`virtuoso ${args[0]} did not print ${re} within ${timeoutMs / 1000} s; ${where}`)),
          timeoutMs,
        )
        waiters.push({
          re,
          resolve: (m) => {
            clearTimeout(t)
            resolve(m)
          },
        })
        proc.then(
          () => {
            clearTimeout(t)
            reject(new Error(`virtuoso ${args.join(' ')} exited; ${where}`))
          },
          () => {},
        )
      })
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null && proc.exitCode !== undefined) return proc.exitCode
      proc.kill(signal)
      const kill = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS)
      const r = await proc
      clearTimeout(kill)
      return r.exitCode
    },
  }
}
