// Ending the OpenSSH processes SCP starts (detached, so each leads its own process group): SIGTERM to
// the group, SIGKILL after a grace period, and a promise that settles only once the child is gone.
import type { ChildProcess } from 'node:child_process'

export const KILL_GRACE_MS = 2000

export function killGroup(c: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-c.pid!, signal)
  } catch {
    c.kill(signal)
  }
}

/** Ends a child (its group: SIGTERM, then SIGKILL) and waits for its exit. */
export function ended(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const t = setTimeout(() => killGroup(c, 'SIGKILL'), KILL_GRACE_MS)
    c.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    killGroup(c)
  })
}
