// Prices in exact integer micro-units (1e-6 of the currency). No floats anywhere: parseMoney reads
// decimal strings digit by digit, and every product is checked to be a safe integer (then a double holds it exactly).
//
// A provider's machine asks (report §6.1.6, pmseller):
//   speedPrice   per second per speedUnit bogomips,  memoryPrice per second per memoryUnit MB,
//   storagePrice per day    per storageUnit MB,     storagePeriod in seconds (the CLI takes days).
// A machine of speed s, memory m, hd h stored there pays
//   running price per running period = (ceil(s/speedUnit)*speedPrice + ceil(m/memoryUnit)*memoryPrice) * runningPeriod
//   storage price per storage period = floor(ceil(h/storageUnit)*storagePrice * storagePeriod / 86400)
// The storage price is rounded DOWN to whole micro-units when a period is not whole days: the buyer
// never pays more than the per-day ask, and the rounding is fixed once, when the machine is stored.
import { errors } from './errors.ts'
import type { Micro, PmRow, VmRow } from './types.ts'

export const MICRO = 1_000_000
export const DAY_S = 86_400
export const HOUR_S = 3_600

/**
 * What a machine costs per hour now, in micro-units: storage once stored, running while started.
 * Exact (fractional: a period need not divide an hour) unless `whole`, which floors each part (the
 * account's integer answer).
 */
export function burnPerHour(
  v: Pick<VmRow, 'pmId' | 'state' | 'storagePrice' | 'storagePeriod' | 'runningPrice' | 'runningPeriod'>,
  whole = false,
): number {
  if (!v.pmId) return 0
  const rate = (price: number, periodS: number) =>
    periodS > 0 ? (whole ? Math.floor((price * HOUR_S) / periodS) : (price * HOUR_S) / periodS) : 0
  return rate(v.storagePrice, v.storagePeriod) + (v.state === 'started' ? rate(v.runningPrice, v.runningPeriod) : 0)
}

export interface Resources {
  speed: number
  memory: number
  hd: number
}
export type PriceSheet = Pick<
  PmRow,
  | 'speedUnit'
  | 'speedPrice'
  | 'memoryUnit'
  | 'memoryPrice'
  | 'runningPeriod'
  | 'storageUnit'
  | 'storagePrice'
  | 'storagePeriod'
>

const chunks = (amount: number, unit: number) => Math.ceil(amount / unit)

/** Exact integer product, or MARKET_BAD_INPUT: a product of integers is exact in a double iff it is safe. */
function mul(a: number, b: number, what: string): number {
  const r = a * b
  if (!Number.isSafeInteger(r)) throw errors.badInput(what, 'the price is too large to represent exactly')
  return r
}

function add(a: number, b: number, what: string): number {
  const r = a + b
  if (!Number.isSafeInteger(r)) throw errors.badInput(what, 'the price is too large to represent exactly')
  return r
}

/** Running price per second (micro-units). */
export function runningPerSecond(pm: PriceSheet, r: Resources): Micro {
  return add(
    mul(chunks(r.speed, pm.speedUnit), pm.speedPrice, 'running price'),
    mul(chunks(r.memory, pm.memoryUnit), pm.memoryPrice, 'running price'),
    'running price',
  )
}

/** What one running period costs there. */
export function runningPrice(pm: PriceSheet, r: Resources): Micro {
  return mul(runningPerSecond(pm, r), pm.runningPeriod, 'running price')
}

/** Storage per day (the provider's ask, normalized). */
export function storagePerDay(pm: PriceSheet, r: Resources): Micro {
  return mul(chunks(r.hd, pm.storageUnit), pm.storagePrice, 'storage price')
}

/** What one storage period costs there (rounded down to whole micro-units; see above). */
export function storagePrice(pm: PriceSheet, r: Resources): Micro {
  const x = mul(storagePerDay(pm, r), pm.storagePeriod, 'storage price')
  return (x - (x % DAY_S)) / DAY_S // integer division without a float quotient
}

/** Running per hour: what bids and market averages are compared in. */
export function runningPerHour(pm: PriceSheet, r: Resources): Micro {
  return mul(runningPerSecond(pm, r), HOUR_S, 'running price')
}

export interface Quote {
  storagePrice: Micro
  storagePeriod: number
  runningPrice: Micro
  runningPeriod: number
  storagePerDay: Micro
  runningPerHour: Micro
}

export function quote(pm: PriceSheet, r: Resources): Quote {
  return {
    storagePrice: storagePrice(pm, r),
    storagePeriod: pm.storagePeriod,
    runningPrice: runningPrice(pm, r),
    runningPeriod: pm.runningPeriod,
    storagePerDay: storagePerDay(pm, r),
    runningPerHour: runningPerHour(pm, r),
  }
}

/** The prices a machine pays from when it is placed on a provider machine: that sheet's, as quoted
 *  (store, migration commit, re-adoption of a lost machine's copy). */
export function placedRates(
  q: Quote,
): Pick<VmRow, 'storagePrice' | 'storagePeriod' | 'runningPrice' | 'runningPeriod'> {
  return {
    storagePrice: q.storagePrice,
    storagePeriod: q.storagePeriod,
    runningPrice: q.runningPrice,
    runningPeriod: q.runningPeriod,
  }
}

/** Billing clocks of a machine newly stored on a provider machine: storage from `now`, no running yet. */
export function freshBilling(
  now: number,
): Pick<VmRow, 'lastDebitedStorage' | 'lastDebitedRunning' | 'runningCredit' | 'runningPaidUntil'> {
  return { lastDebitedStorage: now, lastDebitedRunning: null, runningCredit: 0, runningPaidUntil: null }
}

/** Bids are per day (storage) and per hour (running); null means no limit. */
export function withinBids(q: Quote, bids: { bidStorage: Micro | null; bidRunning: Micro | null }): boolean {
  return (
    (bids.bidStorage === null || q.storagePerDay <= bids.bidStorage) &&
    (bids.bidRunning === null || q.runningPerHour <= bids.bidRunning)
  )
}

const MONEY = /^(\d{1,12})(?:\.(\d{1,6}))?$/

/** "0.0001" -> 100. At most 6 decimals (one micro-unit) and 12 integer digits; no sign, no exponent. */
export function parseMoney(text: string, what = 'amount'): Micro {
  if (typeof text !== 'string') throw errors.badInput(what, 'must be a decimal string such as "0.0005"')
  const m = MONEY.exec(text.trim())
  if (!m) throw errors.badInput(what, `"${text}" is not an amount: use digits with at most 6 decimals, e.g. 0.0005`)
  return Number(m[1]) * MICRO + Number((m[2] ?? '').padEnd(6, '0'))
}

/** 100 -> "0.0001", 1500000 -> "1.5", 2000000 -> "2". */
export function formatMoney(micro: Micro): string {
  const neg = micro < 0
  const abs = Math.abs(micro)
  const whole = Math.floor(abs / MICRO)
  const frac = String(abs % MICRO)
    .padStart(6, '0')
    .replace(/0+$/, '')
  return (neg ? '-' : '') + whole + (frac ? '.' + frac : '')
}
