// A provider machine's `used*` fields are derived state: the sum of the machines stored on it plus
// the rooms reserved by open migrations towards it. Every rule that changes them goes through
// `roomOp`, which reads the pm row as it is NOW. Callers build the op and hand it to `store.write`
// with no `await` in between: the store applies a batch to memory synchronously, so the read and
// the write are atomic with respect to every other writer (a stale copy taken before an awaited
// provider command would undo a concurrent store, reservation or edit, and `used` would drift).
import type { Ctx } from './context.ts'
import type { Op } from './store.ts'
import type { PmRow, VmRow } from './types.ts'

type Size = Pick<VmRow, 'speed' | 'memory' | 'hd'>

/** Takes (`sign` 1) or frees (`sign` -1) a machine's room on `pmId`; nothing if the pm is gone. */
export function roomOp(ctx: Ctx, pmId: string, vm: Size, sign: 1 | -1): Op[] {
  const pm = ctx.store.get('pm', pmId)
  if (!pm) return []
  const value: PmRow = {
    ...pm,
    usedSpeed: pm.usedSpeed + sign * vm.speed,
    usedMemory: pm.usedMemory + sign * vm.memory,
    usedStorage: pm.usedStorage + sign * vm.hd,
  }
  return [{ type: 'put', table: 'pm', key: pm.id, value }]
}

/** What `used*` of a pm must be, recomputed from the machines and open migrations (tests, audit). */
export function expectedRoom(ctx: Ctx, pmId: string): { speed: number; memory: number; storage: number } {
  const sum = { speed: 0, memory: 0, storage: 0 }
  const add = (vm: Size) => {
    sum.speed += vm.speed
    sum.memory += vm.memory
    sum.storage += vm.hd
  }
  for (const p of ctx.store.values('pairings')) {
    const vm = p.pmId === pmId ? ctx.store.get('vm', p.vmId) : undefined
    if (vm) add(vm)
  }
  for (const m of ctx.store.values('migrations') as Iterable<any>) {
    if ((m.phase === 'preparing' || m.phase === 'copying') && m.to.pmId === pmId) {
      const vm = ctx.store.get('vm', m.vmId)
      if (vm) add(vm)
    }
  }
  return sum
}
