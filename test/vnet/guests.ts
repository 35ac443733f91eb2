// Test helpers for real guests on a network: a console that answers, the guest's DHCP address.
import { copyFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { NicConfig, VmConfig } from '../../src/hv/types.ts'
import { ConsoleSession } from '../hv/console.ts'

export const BOOT_MS = 150_000

/** A small Linux guest with a network card. */
export const guestConfig = (nic: NicConfig): VmConfig => ({ memory: 128, hd: 2100, speed: 1000, os: 'linux', nic })

/** Creates, registers and starts guest `id` with `nic`. */
export async function bootGuest(hv: Hypervisor, id: string, nic: NicConfig): Promise<void> {
  await hv.create(id, guestConfig(nic))
  await hv.register(id)
  await hv.start(id)
}

/** The guest's shell, once it answers (it may still be booting: keep poking). */
export async function shell(hv: Hypervisor, id: string, timeoutMs = BOOT_MS): Promise<ConsoleSession> {
  const term = new ConsoleSession(await hv.console(id))
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      // Keys typed while the guest boots can leave half a line (an open quote) in the shell: Ctrl-C
      // drops it before each try.
      term.stream.write('\x03')
      if ((await term.run('echo "pi""ng"', 3000)).includes('ping')) return term
    } catch (err) {
      if (Date.now() > deadline) throw err
    }
  }
}

/** Waits in the guest until DHCP gave eth0 its address, and returns it. */
export async function dhcpAddress(term: ConsoleSession, timeoutMs = BOOT_MS): Promise<string> {
  const out = await term.run(
    "while ! ifconfig eth0 | grep -q 'inet addr'; do sleep 0.2; done; ifconfig eth0 | grep -o 'inet addr:[0-9.]*'",
    timeoutMs,
  )
  return out.trim().replace('inet addr:', '')
}

/** Packets a `ping -c N` got back, run in the guest. */
export async function pingCount(term: ConsoleSession, address: string, count: number, waitS = 5): Promise<number> {
  const out = await term.run(`ping -c ${count} -W ${waitS} ${address} | grep -o "[0-9]* packets received"`, 90_000)
  return Number(out.trim().split(' ')[0])
}

/** Moves guest `id` from one provider's hypervisor to another's as a migration does (suspend, its files
 *  copied, imported suspended there, the origin's copy deleted); the caller resumes it. */
export async function moveGuest(from: Hypervisor, to: Hypervisor, id: string, nic: NicConfig, origin: string) {
  const { version } = await from.suspend(id)
  for (const f of await from.files(id)) {
    await mkdir(dirname(join(to.dirOf(id), f)), { recursive: true })
    await copyFile(join(from.dirOf(id), f), join(to.dirOf(id), f))
  }
  await to.importVm(id, guestConfig(nic), { version, origin, suspended: true })
  await from.delete(id)
}
