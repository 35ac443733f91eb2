// A physical machine's price sheet (report §5.2): what a unit of speed, memory and storage costs and
// per how long. Whole numbers only (money is integer micro-units); periods at most a year.
import { errors } from './errors.ts'
import type { PmRow } from './types.ts'

export const SHEET_FIELDS = [
  'speedUnit',
  'speedPrice',
  'memoryUnit',
  'memoryPrice',
  'runningPeriod',
  'storageUnit',
  'storagePrice',
  'storagePeriod',
] as const
export type Sheet = Pick<PmRow, (typeof SHEET_FIELDS)[number]>
/** Defaults for a first machine added without `like`: cheap, hourly running, daily storage. */
export const DEFAULT_SHEET: Sheet = {
  speedUnit: 1000,
  speedPrice: 1,
  memoryUnit: 128,
  memoryPrice: 1,
  runningPeriod: 3600,
  storageUnit: 1024,
  storagePrice: 1000,
  storagePeriod: 86_400,
}
const MAX_PERIOD_S = 366 * 86_400

export function checkSheet(s: Record<string, unknown>): Sheet {
  const out: Record<string, number> = {}
  for (const f of SHEET_FIELDS) {
    const v = s[f]
    const min = f.endsWith('Price') ? 0 : 1
    const max = f.endsWith('Period') ? MAX_PERIOD_S : Number.MAX_SAFE_INTEGER
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      throw errors.badInput(f, `must be a whole number from ${min} to ${max}`)
    out[f] = v as number
  }
  return out as Sheet
}
