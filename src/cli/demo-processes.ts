// Everything the demo started, so it can all be ended at any moment (Ctrl-C or a closed terminal
// during start-up as well as `q` afterwards): the node processes, then the guests they launched.
// Guests are detached from their agent by design (QEMU -daemonize, qemu-nbd --fork), so stopping the
// agents leaves them running; they are found by the pid files in the providers' machine directories
// and ended by pid, never by name (other markets may run on the same host).
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { spawnVirtuoso, type Child } from './child.ts'
import { readPid, terminate } from '../hv/qemu/proc.ts'
import { NBD_PID, QEMU_PID } from '../hv/qemu/args.ts'

export class DemoProcesses {
  #children: Child[] = []
  #providerDirs: string[] = []

  /** Starts `virtuoso ARGS` in a process group of its own (a closed terminal's SIGHUP reaches only the
   *  demo, which then ends everything in order) that exits when the demo's end of its stdin closes. */
  spawn(args: string[], stderrFile: string): Child {
    const c = spawnVirtuoso(args, { stderrFile, tiedToParent: true })
    this.#children.push(c)
    return c
  }

  /** A provider's data directory, whose guests `stop` ends if its agent left them running. */
  provider(dataDir: string): void {
    this.#providerDirs.push(dataDir)
  }

  /** Nodes first (providers and hub together, the DHT last), then any guest still running. */
  async stop(): Promise<void> {
    const [first, ...rest] = this.#children
    this.#children = []
    await Promise.all(rest.map((c) => c.stop('SIGTERM')))
    await first?.stop('SIGTERM')
    await this.reapGuests()
  }

  async reapGuests(): Promise<void> {
    const dirs: string[] = []
    for (const p of this.#providerDirs) {
      const machines = join(p, 'machines')
      for (const d of [machines, join(machines, '.vmmp-cache')]) {
        const names = await readdir(d).catch(() => [] as string[])
        for (const n of names) if (!n.startsWith('.')) dirs.push(join(d, n))
      }
    }
    await Promise.all(
      dirs.map(async (dir) => {
        await terminate(await readPid(join(dir, QEMU_PID)), dir, 3000).catch(() => {})
        await terminate(await readPid(join(dir, NBD_PID)), dir, 3000).catch(() => {})
      }),
    )
  }
}
