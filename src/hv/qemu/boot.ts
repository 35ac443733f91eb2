// How a machine boots (or resumes from a saved state): qemu-nbd serves its disk, QEMU starts
// detached, a resumed guest must reach 'paused' or 'running' from its saved state before it counts as
// up, and its speed share is applied last. Any failure leaves no process behind; the disk is intact.
import { join } from 'node:path'
import type { VmConfig } from '../types.ts'
import { descriptorName } from '../disk.ts'
import { HvError, HV_VMM_FAILED } from '../errors.ts'
import type { Monitor } from './monitor.ts'
import { launch, readPid, terminate } from './proc.ts'
import type { CpuLimiter } from './cgroup.ts'
import { QEMU_PID, nbdArgs, qemuArgs, type GuestOutbound } from './args.ts'

export interface BootPlan {
  id: string
  dir: string
  /** Where the sockets are (a short path: unix socket paths are limited to 108 bytes). */
  sockDir: string
  config: VmConfig
  /** A saved state to load, or null for a fresh boot. */
  incoming: string | null
  /** The guest has a first-boot seed drive. */
  seed: boolean
  accel: 'kvm' | 'tcg'
  /** What the guest's uplink card may reach (the provider's --guest-outbound). */
  outbound: GuestOutbound
  bins: { qemu: string; qemuNbd: string }
  stateTimeoutMs: number
  /** Speed share: CPUs = config.speed / perCpu (bogomips of one host CPU), when both are known. */
  limiter: CpuLimiter | null
  perCpu: number | null | undefined
  /** The speed share could not be applied: the machine runs anyway (its buyer paid for it) and the
   *  driver tells the provider, instead of swallowing it. */
  unlimited: (why: string) => void
  monitor: () => Promise<Monitor>
  /** Stops qemu-nbd and removes sockets and pid files (also run before the boot). */
  cleanup: () => Promise<void>
}

export async function bootMachine(p: BootPlan): Promise<void> {
  const { id, dir, config } = p
  await p.cleanup()
  await launch(p.bins.qemuNbd, nbdArgs(dir, p.sockDir, descriptorName()), {
    cwd: dir,
    what: `serve the disk of machine '${id}'`,
  })
  try {
    const args = qemuArgs({
      id,
      dir,
      sockDir: p.sockDir,
      memory: config.memory,
      accel: p.accel,
      seed: p.seed,
      incoming: p.incoming,
      mac: config.nic?.mac,
      outbound: p.outbound,
      media: config.media,
    })
    await launch(p.bins.qemu, args, { cwd: dir, what: `start machine '${id}'` })
    // QEMU counts as up once its monitor answers.
    const mon = await p.monitor()
    if (p.incoming) await loadState(id, mon, p.stateTimeoutMs)
    else mon.close()
    const pid = await readPid(join(dir, QEMU_PID))
    if (pid && p.perCpu)
      await p.limiter
        ?.apply(id, pid, Math.min(1, config.speed / p.perCpu))
        .catch((err: Error) => p.unlimited(`cgroup cpu.max could not be applied (${err.message})`))
  } catch (err) {
    await terminate(await readPid(join(dir, QEMU_PID)), dir, 2000).catch(() => {})
    await p.cleanup()
    throw err
  }
}

async function loadState(id: string, mon: Monitor, timeoutMs: number): Promise<void> {
  try {
    const s = await mon.waitIncoming(timeoutMs)
    if (s !== 'paused' && s !== 'running')
      throw new HvError(
        HV_VMM_FAILED,
        `Machine '${id}' did not load its saved state (QEMU is ${s}); its disk is intact, stop and start it.`,
      )
    if (s === 'paused') await mon.cont()
  } finally {
    mon.close()
  }
}
