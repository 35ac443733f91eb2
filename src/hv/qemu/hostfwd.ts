// A running guest's TCP port on a provider-loopback port: QEMU's user-mode uplink card forwards
// 127.0.0.1:HOST to the guest's port (HMP hostfwd_add). Forwards are made on first use and kept per
// QEMU process (a resumed or migrated machine is a new process, which starts with none).
import { createServer } from 'node:net'
import { join } from 'node:path'
import { HvError, HV_BAD_STATE, HV_VMM_FAILED } from '../errors.ts'
import { QEMU_PID, UPLINK_NETDEV } from './args.ts'
import { alive, readPid } from './proc.ts'
import type { Monitor } from './monitor.ts'

/** Tries with another free port when QEMU could not bind the one we found (taken in between). */
const ATTEMPTS = 3

export class HostForwards {
  /** Per machine: the QEMU pid the forwards belong to, guest port -> host port. */
  private byVm = new Map<string, { pid: number; ports: Map<number, Promise<number>> }>()

  /** The host port on 127.0.0.1 that reaches `guestPort` of machine `id`, whose directory is `dir`. */
  async port(id: string, dir: string, guestPort: number, monitor: () => Promise<Monitor>): Promise<number> {
    const pid = await readPid(join(dir, QEMU_PID))
    if (!pid || !(await alive(pid, dir)))
      throw new HvError(HV_BAD_STATE, `Cannot reach a port of machine '${id}': it is not running; start it first.`)
    let vm = this.byVm.get(id)
    if (!vm || vm.pid !== pid) {
      vm = { pid, ports: new Map() }
      this.byVm.set(id, vm)
    }
    let p = vm.ports.get(guestPort)
    if (!p) {
      p = add(guestPort, monitor)
      vm.ports.set(guestPort, p)
      const ports = vm.ports
      p.catch(() => ports.delete(guestPort))
    }
    return p
  }

  forget(id: string): void {
    this.byVm.delete(id)
  }
}

async function add(guestPort: number, monitor: () => Promise<Monitor>): Promise<number> {
  const mon = await monitor()
  try {
    let said = ''
    for (let i = 0; i < ATTEMPTS; i++) {
      const host = await freePort()
      // Empty output means success; QEMU prints why otherwise (e.g. the port is taken).
      said = (await mon.hmp(`hostfwd_add ${UPLINK_NETDEV} tcp:127.0.0.1:${host}-:${guestPort}`)).trim()
      if (!said) return host
    }
    throw new HvError(HV_VMM_FAILED, `Cannot forward to guest port ${guestPort}: QEMU said '${said}'.`)
  } finally {
    mon.close()
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}
