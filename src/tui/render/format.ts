// Small text formats shared by the render functions. Pure; money stays integer micro-units until here.
import { formatMoney } from '../../market/pricing.ts'

/** Micro-units as a decimal string; '-' for none. */
export function money(micro: number | null | undefined): string {
  return micro === null || micro === undefined || !Number.isFinite(micro) ? '-' : formatMoney(Math.round(micro))
}

/** A rate that may be fractional micro-units (averages): shown with at most 6 decimals, trimmed. */
export function moneyApprox(micro: number | null | undefined): string {
  if (micro === null || micro === undefined || !Number.isFinite(micro)) return '-'
  return money(Math.round(micro))
}

/** Seconds as the largest whole unit: 86400 -> 1d, 3600 -> 1h, 90 -> 90s. */
export function period(s: number | null | undefined): string {
  if (!s || s < 0) return '-'
  if (s % 86400 === 0) return `${s / 86400}d`
  if (s % 3600 === 0) return `${s / 3600}h`
  if (s % 60 === 0) return `${s / 60}m`
  return `${s}s`
}

/** A duration in ms, two units at most: 3h05m, 2m10s, 45s, 3d4h. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-'
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`
  return `${Math.floor(h / 24)}d${h % 24}h`
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** Sizes in binary units (1.5 MiB, 48 MiB): one decimal below `decimalsBelow` units (the dashboard
 *  100; the CLI 10, so its lines read 48 MiB). */
export function bytes(n: number | null | undefined, decimalsBelow = 100): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '-'
  let v = n
  let i = 0
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(v >= decimalsBelow ? 0 : 1)} ${UNITS[i]}`
}

/** Sizes in the tables are MB: 512 -> 512M, 2048 -> 2G, 1536 -> 1.5G. */
export function mb(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-'
  if (n >= 1024) {
    const g = n / 1024
    return `${Number.isInteger(g) ? g : g.toFixed(1)}G`
  }
  return `${n}M`
}

export function shortId(id: string | null | undefined, n = 8): string {
  return id ? id.slice(0, n) : '-'
}

/** Clock time of day (UTC, so captures and tests are stable) or date when older than a day. */
export function clock(time: number, now: number = Date.now()): string {
  const iso = new Date(time).toISOString()
  return now - time < 86_400_000 ? iso.slice(11, 19) : iso.slice(0, 10)
}

export function percent(done: number, total: number): number {
  if (!total || total <= 0) return 0
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)))
}

/** Cut to `width` columns, marking the cut with '…'. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return ''
  if (text.length <= width) return text
  return width === 1 ? '…' : text.slice(0, width - 1) + '…'
}

export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = truncate(text, width)
  return align === 'right' ? t.padStart(width) : t.padEnd(width)
}
