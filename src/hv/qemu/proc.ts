// Processes we start and must find again after an agent restart: pid files, liveness that sees through
// zombies (PID 1 in containers may never reap a daemon) and pid reuse, and launching daemons detached
// so they outlive us.
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { HvError, HV_QEMU_MISSING, HV_VMM_FAILED, HV_TIMEOUT } from '../errors.ts'

export async function readPid(file: string): Promise<number | null> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim())
    return Number.isInteger(n) && n > 1 ? n : null
  } catch {
    return null
  }
}

/** True when `pid` runs (not a zombie) and, if given, its command line contains `mark`. */
export async function alive(pid: number | null, mark?: string): Promise<boolean> {
  if (!pid) return false
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    if (state === 'Z' || state === 'X') return false
    if (mark === undefined) return true
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8')
    return cmd.includes(mark)
  } catch {
    return false
  }
}

export async function waitGone(pid: number, timeoutMs: number, mark?: string): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (await alive(pid, mark)) {
    if (Date.now() > deadline) return false
    await sleep(25)
  }
  return true
}

/** SIGTERM, then SIGKILL after `graceMs`. Resolves when the process is gone. */
export async function terminate(pid: number | null, mark: string | undefined, graceMs: number): Promise<void> {
  if (!pid || !(await alive(pid, mark))) return
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  if (await waitGone(pid, graceMs, mark)) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    return
  }
  if (!(await waitGone(pid, 5000, mark)))
    throw new HvError(HV_TIMEOUT, `Process ${pid} did not exit after SIGKILL; check the host (ps ${pid}).`)
}

/**
 * Run a program that daemonizes itself (QEMU -daemonize, qemu-nbd --fork) in a session of its own, wait
 * for the launcher to exit, and turn a failure into one line with the program's own complaint.
 */
export function launch(bin: string, args: string[], opts: { cwd: string; what: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr!.setEncoding('utf8')
    child.stderr!.on('data', (s: string) => {
      if (err.length < 4000) err += s
    })
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'EACCES') reject(missing(bin, e))
      else reject(new HvError(HV_VMM_FAILED, `Could not run ${bin} to ${opts.what}: ${e.message}.`, { cause: e }))
    })
    child.once('exit', (code, signal) => {
      // The daemon may still hold our stderr pipe; we have what the launcher said.
      child.stderr!.destroy()
      child.unref()
      if (code === 0) return resolve()
      const why = err.trim().split('\n').filter(Boolean).pop() ?? (signal ? `killed by ${signal}` : `exit code ${code}`)
      reject(new HvError(HV_VMM_FAILED, `${basename(bin)} failed to ${opts.what}: ${why.replace(/\s+/g, ' ')}.`))
    })
  })
}

export function missing(bin: string, cause?: unknown): HvError {
  return new HvError(
    HV_QEMU_MISSING,
    `QEMU program '${bin}' was not found or is not executable; install it (run: bash scripts/setup.sh, or as ` +
      `root: apt-get install qemu-system-x86 qemu-utils) or point the driver at it (--qemu PATH).`,
    { cause },
  )
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
