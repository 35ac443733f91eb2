// The price daemon (report §6.1.9, priceaverage.pl): for each standard configuration, the average
// of what the provider machines that could host it would ask, per day of storage and per hour of
// running. When none could, the stale price stays: a guide that is old beats no guide.
import type { Ctx } from './context.ts'
import { fits } from './search.ts'
import { runningPerHour, storagePerDay } from './pricing.ts'
import type { Op } from './store.ts'

export async function pricePass(ctx: Ctx, now: number): Promise<{ priced: number; stale: number }> {
  const ops: Op[] = []
  let priced = 0,
    stale = 0
  const pms = [...ctx.store.values('pm')].filter((pm) => pm.drainUntil === null)
  for (const c of ctx.store.values('config')) {
    let n = 0,
      storage = 0,
      running = 0
    for (const pm of pms) {
      if (!fits(pm, c)) continue
      n++
      storage += storagePerDay(pm, c)
      running += runningPerHour(pm, c)
    }
    if (n === 0) {
      stale++
      continue
    }
    priced++
    const askedStoragePrice = Math.floor(storage / n)
    const askedRunningPrice = Math.floor(running / n)
    if (askedStoragePrice === c.askedStoragePrice && askedRunningPrice === c.askedRunningPrice && c.pricedAt !== null)
      continue
    ops.push({
      type: 'put',
      table: 'config',
      key: c.name,
      value: { ...c, askedStoragePrice, askedRunningPrice, pricedAt: now },
    })
  }
  await ctx.store.write(ops)
  return { priced, stale }
}
