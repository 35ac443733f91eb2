// Rows of the Market tab's prices view: standard configurations with market-average prices, and the
// provider marketplace with each provider's asks normalized to one unit and set beside the market average.
import type { ConfigRow, PmRow } from '../../market/types.ts'
import type { Column } from './table.ts'
import { mb, money, moneyApprox } from './format.ts'

export const CONFIG_COLUMNS: Column[] = [
  { header: 'NAME', grow: true, min: 8 },
  { header: 'OS', min: 5 },
  { header: 'MEM', align: 'right' },
  { header: 'DISK', align: 'right' },
  { header: 'SPEED', align: 'right' },
  { header: 'STORE/DAY', align: 'right', min: 8 },
  { header: 'RUN/HOUR', align: 'right', min: 8 },
]

export function configRow(c: ConfigRow): string[] {
  return [
    c.name,
    c.os ?? 'blank',
    mb(c.memory),
    mb(c.hd),
    String(c.speed),
    money(c.askedStoragePrice),
    money(c.askedRunningPrice),
  ]
}

/** One provider's asks in common units (micro-units, may be fractional). */
export interface UnitPrices {
  /** per 1000 bogomips per hour */
  speedHour: number
  /** per GB of memory per hour */
  memoryHour: number
  /** per GB of storage per day */
  storageDay: number
}

export const UNIT_LABELS = { speedHour: '/h per 1000bm', memoryHour: '/h per GB mem', storageDay: '/day per GB disk' }

export function unitPrices(
  pm: Pick<PmRow, 'speedPrice' | 'speedUnit' | 'memoryPrice' | 'memoryUnit' | 'storagePrice' | 'storageUnit'>,
): UnitPrices {
  return {
    speedHour: (pm.speedPrice * 3600 * 1000) / Math.max(1, pm.speedUnit),
    memoryHour: (pm.memoryPrice * 3600 * 1024) / Math.max(1, pm.memoryUnit),
    storageDay: (pm.storagePrice * 1024) / Math.max(1, pm.storageUnit),
  }
}

/** Mean of the providers' unit prices; null when there are none. */
export function marketAverages(pms: PmRow[]): UnitPrices | null {
  if (!pms.length) return null
  const sum = { speedHour: 0, memoryHour: 0, storageDay: 0 }
  for (const p of pms) {
    const u = unitPrices(p)
    sum.speedHour += u.speedHour
    sum.memoryHour += u.memoryHour
    sum.storageDay += u.storageDay
  }
  return {
    speedHour: sum.speedHour / pms.length,
    memoryHour: sum.memoryHour / pms.length,
    storageDay: sum.storageDay / pms.length,
  }
}

/** "+12%" / "-5%" / "avg" against the average. */
export function versus(value: number, avg: number | undefined): string {
  if (avg === undefined || !Number.isFinite(avg) || avg <= 0) return ''
  const d = Math.round(((value - avg) / avg) * 100)
  return d === 0 ? '=avg' : d > 0 ? `+${d}%` : `${d}%`
}

export const PROVIDER_COLUMNS: Column[] = [
  { header: 'NAME', grow: true, min: 8 },
  { header: 'OWNER', min: 6 },
  { header: 'FREE CPU MEM DISK', min: 17 },
  { header: 'CPU/H', align: 'right', min: 10 },
  { header: 'MEM/H', align: 'right', min: 10 },
  { header: 'DISK/DAY', align: 'right', min: 10 },
]

export function providerRow(p: PmRow, avg: UnitPrices | null): string[] {
  const u = unitPrices(p)
  const cell = (v: number, a: number | undefined) => [moneyApprox(v), versus(v, a)].filter(Boolean).join(' ')
  return [
    p.drainUntil ? `${p.name} (draining)` : p.name,
    p.owner,
    `${p.speed - p.usedSpeed} ${mb(p.memory - p.usedMemory)} ${mb(p.storage - p.usedStorage)}`,
    cell(u.speedHour, avg?.speedHour),
    cell(u.memoryHour, avg?.memoryHour),
    cell(u.storageDay, avg?.storageDay),
  ]
}

export function averagesLine(avg: UnitPrices | null): string {
  if (!avg) return 'market average: no providers yet'
  return (
    `avg: cpu ${moneyApprox(avg.speedHour)}/h·1000bm  mem ${moneyApprox(avg.memoryHour)}/h·GB  disk ` +
    `${moneyApprox(avg.storageDay)}/day·GB`
  )
}
