// `account` (report §5.2.4, §5.1): a buyer's balance and, per machine, its state, fixed prices,
// what it has been charged and what it burns now; a provider's income per physical machine broken
// down per virtual machine (from the ledger, so machines that left still count).
import type { Ctx } from './context.ts'
import { requireUser, userRow } from './context.ts'
import { burnPerHour, DAY_S } from './pricing.ts'
import { evictableFrom } from './unpaid-policy.ts'
import type { Identity, Micro, VmState } from './types.ts'

export interface BuyerAccount {
  type: 'buyer'
  balance: Micro
  vms: Array<{
    id: string
    name: string
    state: VmState
    pmId: string | null
    storagePrice: Micro
    storagePeriod: number
    runningPrice: Micro
    runningPeriod: number
    chargedStorage: Micro
    chargedRunning: Micro
    storageDebt: Micro
    /** Unpaid storage: from when its provider may evict it (null: paid up). */
    evictableFrom: number | null
    runningCredit: number
    /** What it costs per hour in its current state (storage always, running while started). */
    burnPerHour: Micro
  }>
  totalCharged: Micro
}

export interface ProviderAccount {
  type: 'provider'
  balance: Micro
  pms: Array<{
    pmId: string
    name: string | null
    income: Micro
    vms: Array<{ vmId: string; storage: Micro; running: Micro }>
  }>
  totalIncome: Micro
}

export async function account(ctx: Ctx, who: Identity | null): Promise<BuyerAccount | ProviderAccount> {
  const me = requireUser(who)
  const user = userRow(ctx, me.username)
  if (me.type === 'buyer') {
    const vms: BuyerAccount['vms'] = []
    let total = 0
    for (const vm of ctx.store.values('vm')) {
      if (vm.owner !== me.username) continue
      const burn = burnPerHour(vm, true)
      total += vm.chargedStorage + vm.chargedRunning
      vms.push({
        id: vm.id,
        name: vm.name,
        state: vm.state,
        pmId: vm.pmId,
        storagePrice: vm.storagePrice,
        storagePeriod: vm.storagePeriod,
        runningPrice: vm.runningPrice,
        runningPeriod: vm.runningPeriod,
        chargedStorage: vm.chargedStorage,
        chargedRunning: vm.chargedRunning,
        storageDebt: vm.storageDebt,
        evictableFrom: evictableFrom(vm),
        runningCredit: vm.runningCredit,
        burnPerHour: burn,
      })
    }
    return { type: 'buyer', balance: user.balance, vms, totalCharged: total }
  }
  const pms = new Map<string, ProviderAccount['pms'][number]>()
  for (const pm of ctx.store.values('pm'))
    if (pm.owner === me.username) pms.set(pm.id, { pmId: pm.id, name: pm.name, income: 0, vms: [] })
  let totalIncome = 0
  await ctx.store.scan('ledger', (e) => {
    if (e.to !== me.username || e.kind === 'deposit' || !e.pmId) return
    let pm = pms.get(e.pmId)
    if (!pm) pms.set(e.pmId, (pm = { pmId: e.pmId, name: null, income: 0, vms: [] })) // a machine since removed
    pm.income += e.amount
    totalIncome += e.amount
    let v = pm.vms.find((x) => x.vmId === e.vmId)
    if (!v) pm.vms.push((v = { vmId: e.vmId ?? '', storage: 0, running: 0 }))
    if (e.kind === 'storage') v.storage += e.amount
    else v.running += e.amount
  })
  return { type: 'provider', balance: user.balance, pms: [...pms.values()], totalIncome }
}

export { DAY_S }
