// The numbers of the unpaid-storage policy (unpaid.ts), apart so views can show the eviction date.
import type { VmRow } from './types.ts'

/** Grace: this many storage periods, and at least UNPAID_GRACE_MIN_MS. */
export const UNPAID_GRACE_PERIODS = 3
export const UNPAID_GRACE_MIN_MS = 7 * 24 * 3600 * 1000

/** When the provider may evict an unpaid machine (null: it is not unpaid). */
export function evictableFrom(vm: Pick<VmRow, 'unpaidSince' | 'storagePeriod'>): number | null {
  if (vm.unpaidSince == null) return null
  return vm.unpaidSince + Math.max(UNPAID_GRACE_PERIODS * vm.storagePeriod * 1000, UNPAID_GRACE_MIN_MS)
}
