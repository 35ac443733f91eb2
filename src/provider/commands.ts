// The hub's machine commands carried out on the provider's Hypervisor (report §6.2.3, §7.1.5): the
// hub and the node must agree on a machine's version before it changes. A command whose reply was
// lost on the way back is sent again by the hub (or a retrying user); one the machine already
// reflects (its target state at exactly the version the command leaves it at) answers as done, so
// a retry heals instead of failing on a version the node already moved to. Found by the seeded
// simulation (test/sim): a lost 'vm.stop' reply left the hub at v, the node at v+1, for good.
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { HvState, HvVm } from '../hv/types.ts'
import { nodeError } from '../net/errors.ts'
import { HV_NOT_FOUND } from '../hv/errors.ts'

/** Target state and version step of each state command (create/register, stop, suspend add one). */
const TARGET: Record<string, { state: HvState; bump: number }> = {
  'vm.start': { state: 'running', bump: 0 },
  'vm.stop': { state: 'stopped', bump: 1 },
  'vm.suspend': { state: 'suspended', bump: 1 },
  'vm.resume': { state: 'running', bump: 0 },
}

async function find(hv: Hypervisor, id: string): Promise<HvVm | null> {
  return hv.get(id).catch((err) => {
    if ((err as { code?: string }).code === HV_NOT_FOUND) return null
    throw err
  })
}

const sameSize = (a: HvVm['config'], b: any) =>
  !!b && a.memory === b.memory && a.hd === b.hd && a.speed === b.speed && (a.os ?? null) === (b.os ?? null)

export interface VmCommandOptions {
  /** Makes a new machine's disk from a cached catalog image (src/provider images). */
  makeDisk?: (id: string, hdMb: number, digest: string) => Promise<unknown>
  /** After a delete: the provider keeps install media only while a machine has it attached. */
  forgetMedia?: (path: string | null | undefined) => Promise<void>
  /** The guest's root password hash from its console password (src/console/passwords.ts), if set. */
  guestPasswordHash?: (id: string) => Promise<string | null>
}

export async function vmCommand(hv: Hypervisor, method: string, p: any, opts: VmCommandOptions = {}): Promise<unknown> {
  const id = typeof p?.vmId === 'string' ? p.vmId : ''
  switch (method) {
    case 'vm.create': {
      if (typeof p.version !== 'number') throw nodeError.badFrame('vm.create needs the version before the action')
      const had = await find(hv, id)
      if (had && had.state === 'registered' && had.version === p.version + 1 && sameSize(had.config, p.config))
        return { version: had.version } // made already; the answer was lost
      await hv.create(id, p.config, { version: p.version, blank: p.image !== undefined })
      if (p.image !== undefined) {
        // The disk starts as the cached catalog image; a machine whose disk failed is not kept.
        try {
          if (!opts.makeDisk) throw nodeError.badFrame('this node cannot make disks from images')
          await opts.makeDisk(id, p.config?.hd, p.image?.digest) // checked by makeDisk
        } catch (err) {
          await hv.delete(id).catch(() => {})
          throw err
        }
      }
      return { version: (await hv.register(id)).version }
    }
    case 'vm.start':
    case 'vm.stop':
    case 'vm.suspend':
    case 'vm.resume': {
      const t = TARGET[method]
      if (typeof p.version === 'number') {
        const vm = await hv.get(id)
        if (vm.version !== p.version) {
          if (vm.state === t.state && vm.version === p.version + t.bump) return { version: vm.version }
          throw nodeError.versionMismatch(id, p.version, vm.version)
        }
        if (t.bump === 0 && vm.state === t.state) return { version: vm.version } // started already
      }
      const verb = method.slice(3) as 'start' | 'stop' | 'suspend' | 'resume'
      // The hub says at every start what the guest's first-boot seed carries (name, the owner's keys).
      if ((verb === 'start' || verb === 'resume') && p.guest && hv.driver.setGuest) {
        const passwordHash = (await opts.guestPasswordHash?.(id)) ?? null
        await hv.setGuest(id, { ...p.guest, passwordHash })
      }
      return { version: (await hv[verb](id)).version }
    }
    case 'vm.delete': {
      const vm = await find(hv, id)
      // Reconciliation (market/strays.ts) deletes a stray copy only at the version it saw.
      if (vm && typeof p.atMost === 'number' && vm.version > p.atMost)
        throw nodeError.versionMismatch(id, p.atMost, vm.version)
      // A stray copy the market places elsewhere may run (a stale start reached it): it stops first.
      if (vm && typeof p.atMost === 'number' && vm.state === 'running') await hv.stop(id)
      if (vm) await hv.delete(id)
      await opts.forgetMedia?.(vm ? vm.config.media : null)
      return {} // gone already: the answer was lost
    }
    case 'vm.status':
      return hv.get(id)
    default:
      throw nodeError.unknownMethod(method)
  }
}
