// The processes a test started under its own temporary directory (QEMU, qemu-nbd: guests outlive
// their agent by design), found by that directory in their command line, so a test ends them all.
import { readdir, readFile } from 'node:fs/promises'

/** Live processes (zombies left out) whose command line contains `text`. */
export async function processesNaming(text: string): Promise<number[]> {
  const pids: number[] = []
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      if ((await readFile(`/proc/${p}/cmdline`, 'utf8')).includes(text)) pids.push(Number(p))
    } catch {
      /* gone */
    }
  }
  return pids
}

/** SIGKILL to every process whose command line contains `text`. */
export async function killProcessesNaming(text: string): Promise<void> {
  for (const pid of await processesNaming(text))
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
}
