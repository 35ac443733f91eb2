// Add / edit a provider's physical machine (addmachineprovider.pl, editmachineprovider.pl): prices
// and chunk sizes are editable; speed, memory and storage are locked once added (report §5.2.3).
import type { PmRow } from '../../market/types.ts'
import type { Field } from './form.ts'
import { money } from './format.ts'

export const DEFAULT_ASKS = {
  speedUnit: '500',
  speedPrice: '0.000002',
  memoryUnit: '256',
  memoryPrice: '0.000001',
  runningPeriod: '3600',
  storageUnit: '1024',
  storagePrice: '0.01',
  storagePeriod: '1',
}

function priceFields(v: Record<string, string>): Field[] {
  return [
    { name: 'speedUnit', label: 'speed unit (bogomips)', value: v.speedUnit },
    { name: 'speedPrice', label: 'speed price /s/unit', value: v.speedPrice },
    { name: 'memoryUnit', label: 'memory unit (MB)', value: v.memoryUnit },
    { name: 'memoryPrice', label: 'memory price /s/unit', value: v.memoryPrice },
    { name: 'runningPeriod', label: 'running period (s)', value: v.runningPeriod },
    { name: 'storageUnit', label: 'storage unit (MB)', value: v.storageUnit },
    { name: 'storagePrice', label: 'storage price /day/unit', value: v.storagePrice },
    { name: 'storagePeriod', label: 'storage period (days)', value: v.storagePeriod },
  ]
}

export function asksOf(p: PmRow): Record<string, string> {
  return {
    speedUnit: String(p.speedUnit),
    speedPrice: money(p.speedPrice),
    memoryUnit: String(p.memoryUnit),
    memoryPrice: money(p.memoryPrice),
    runningPeriod: String(p.runningPeriod),
    storageUnit: String(p.storageUnit),
    storagePrice: money(p.storagePrice),
    storagePeriod: String(+(p.storagePeriod / 86400).toFixed(4)),
  }
}

/** `like`: start from the asks of one of my machines (report footnote 18). */
export function addFields(like?: PmRow): Field[] {
  return [
    { name: 'pairing', label: 'pairing code', hint: 'printed by `virtuoso node`' },
    { name: 'name', label: 'name' },
    ...priceFields(like ? asksOf(like) : DEFAULT_ASKS),
  ]
}

export function pmEditFields(p: PmRow): Field[] {
  return [
    { name: 'name', label: 'name', value: p.name },
    { name: 'processor', label: 'processor', value: p.processor, kind: 'locked' },
    { name: 'speed', label: 'speed (bogomips)', value: String(p.speed), kind: 'locked' },
    { name: 'memory', label: 'memory (MB)', value: String(p.memory), kind: 'locked' },
    { name: 'storage', label: 'storage (MB)', value: String(p.storage), kind: 'locked' },
    ...priceFields(asksOf(p)),
  ]
}

const INT = /^\d+$/
const MONEY = /^\d{1,12}(\.\d{1,6})?$/
const DAYS = /^\d+(\.\d+)?$/

function prices(v: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['speedUnit', 'memoryUnit', 'runningPeriod', 'storageUnit']) {
    if (!INT.test(v[k]?.trim() ?? '') || Number(v[k]) <= 0)
      throw new Error(`${k}: "${v[k] ?? ''}" is not a positive whole number`)
    out[k] = Number(v[k])
  }
  for (const k of ['speedPrice', 'memoryPrice', 'storagePrice']) {
    if (!MONEY.test(v[k]?.trim() ?? ''))
      throw new Error(`${k}: "${v[k] ?? ''}" is not an amount (digits, at most 6 decimals)`)
    out[k] = v[k].trim()
  }
  if (!DAYS.test(v.storagePeriod?.trim() ?? '') || Number(v.storagePeriod) <= 0)
    throw new Error(`storage period: "${v.storagePeriod ?? ''}" is not a number of days`)
  out.storagePeriodDays = v.storagePeriod.trim()
  return out
}

export function addParams(v: Record<string, string>): Record<string, unknown> {
  if (!v.pairing?.trim()) throw new Error('the pairing code is required: `virtuoso node` prints it')
  if (!v.name?.trim()) throw new Error('give the machine a name')
  return { pairing: v.pairing.trim(), name: v.name.trim(), ...prices(v) }
}

/** Locked fields are never sent: the hub refuses them anyway. */
export function pmEditParams(pmId: string, v: Record<string, string>): Record<string, unknown> {
  return { pmId, ...(v.name?.trim() ? { name: v.name.trim() } : {}), ...prices(v) }
}

export const DEFAULT_DRAIN = '1d'
