// Live traffic counters as the dashboard and the CLI print them (src/market/traffic.ts): bytes so far
// and, while they move, the rate between the node's last two reports.
import type { TrafficRow } from '../../market/traffic.ts'
import { bytes } from './format.ts'

/** Bytes per second, or '' when there is no rate yet. */
export function rate(bps: number | null | undefined): string {
  return bps === null || bps === undefined ? '' : `${bytes(bps, 10)}/s`
}

/** One table cell: '1.2 MiB', with the rate while it is not zero ('1.2 MiB 34 KiB/s'). */
export function trafficCell(total: number | undefined, bps: number | null | undefined): string {
  if (total === undefined) return '-'
  return bps ? `${bytes(total, 10)} ${rate(bps)}` : bytes(total, 10)
}

/** Bytes in at most 5 cells for narrow tables: 512B, 2.0K, 48M, 1.5G. */
export function shortBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 || v >= 10 ? Math.round(v) : v.toFixed(1)}${units[i]}`
}

/** Figures older than this are shown with their age (the node stopped reporting: it is away). */
export const STALE_MS = 10_000

/** The detail line under a machine: both directions (with the rate while it moves), drops, and the age
 *  of figures that stopped coming. Frame counts are in `virtuoso net show --json`. */
export function trafficLine(t: TrafficRow | undefined, now: number): string | null {
  if (!t) return null
  const way = (b: number, bps: number | null) => `${bytes(b, 10)}${bps ? ` at ${rate(bps)}` : ''}`
  const age = now - t.at
  return (
    `traffic: sent ${way(t.sentBytes, t.sentRate)}, received ${way(t.recvBytes, t.recvRate)}, ${t.dropped} dropped` +
    (age > STALE_MS ? `; ${Math.round(age / 1000)} s ago` : '')
  )
}
