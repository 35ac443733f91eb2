// Provider search results (searchproviders.pl): what storing a machine on each provider costs.
import type { Column } from './table.ts'
import { money, period } from './format.ts'

export type SortKey = 'running' | 'storage' | 'total'
export const SORT_KEYS: SortKey[] = ['total', 'running', 'storage']

export interface SearchResult {
  pmId: string
  name: string
  owner: string
  storagePrice: number
  storagePeriod: number
  runningPrice: number
  runningPeriod: number
  storagePerDay: number
  runningPerHour: number
  withinBids: boolean
}

export function nextSort(s: SortKey): SortKey {
  return SORT_KEYS[(SORT_KEYS.indexOf(s) + 1) % SORT_KEYS.length]
}

/** Per day if it ran all day: how 'total' compares storage-heavy and running-heavy offers. */
export function totalPerDay(r: Pick<SearchResult, 'storagePerDay' | 'runningPerHour'>): number {
  return r.storagePerDay + r.runningPerHour * 24
}

/** Sorted cheapest first by the chosen price (the hub sorts too; this keeps a re-sort local). */
export function sortResults(rows: SearchResult[], sort: SortKey): SearchResult[] {
  const key = (r: SearchResult) =>
    sort === 'running' ? r.runningPerHour : sort === 'storage' ? r.storagePerDay : totalPerDay(r)
  return [...rows].sort((a, b) => key(a) - key(b) || a.name.localeCompare(b.name))
}

export const SEARCH_COLUMNS: Column[] = [
  { header: 'PROVIDER', grow: true, min: 8 },
  { header: 'OWNER', min: 6 },
  { header: 'STORE/DAY', align: 'right', min: 8 },
  { header: 'RUN/HOUR', align: 'right', min: 8 },
  { header: 'TOTAL/DAY', align: 'right', min: 8 },
  { header: 'CHARGED', min: 8 },
  { header: 'BIDS', min: 4 },
]

export function searchRow(r: SearchResult): string[] {
  return [
    r.name,
    r.owner,
    money(r.storagePerDay),
    money(r.runningPerHour),
    money(totalPerDay(r)),
    `${period(r.storagePeriod)}/${period(r.runningPeriod)}`,
    r.withinBids ? 'ok' : 'over',
  ]
}
