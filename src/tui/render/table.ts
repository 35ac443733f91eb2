// Column fitting for k9s-style tables: every view hands rows of strings here, so the width logic is
// one tested function and views stay declarative.
import { pad } from './format.ts'

export interface Column {
  header: string
  align?: 'left' | 'right'
  /** Never shrink below this (default: the header's width, at most 6). */
  min?: number
  /** Takes the spare width of a large terminal. */
  grow?: boolean
}

export const GAP = 2

/** Widths that fit `width`: natural widths, shrinking the widest shrinkable column first. */
export function fitColumns(cols: Column[], rows: string[][], width: number): number[] {
  const widths = cols.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)))
  const mins = cols.map((c) => c.min ?? Math.min(c.header.length, 6))
  const total = () => widths.reduce((a, b) => a + b, 0) + GAP * Math.max(0, cols.length - 1)
  while (total() > width) {
    let widest = -1
    for (let i = 0; i < widths.length; i++)
      if (widths[i] > mins[i] && (widest < 0 || widths[i] > widths[widest])) widest = i
    if (widest < 0) break
    widths[widest]--
  }
  const spare = width - total()
  const grow = cols.findIndex((c) => c.grow)
  if (spare > 0 && grow >= 0) widths[grow] += spare
  return widths
}

export function formatRow(cols: Column[], widths: number[], cells: string[]): string {
  return cols
    .map((c, i) => pad(cells[i] ?? '', widths[i], c.align))
    .join(' '.repeat(GAP))
    .trimEnd()
}

/** The header line and the row lines, fitted to width. */
export function renderTable(cols: Column[], rows: string[][], width: number): { header: string; lines: string[] } {
  const widths = fitColumns(cols, rows, width)
  return {
    header: formatRow(
      cols,
      widths,
      cols.map((c) => c.header),
    ),
    lines: rows.map((r) => formatRow(cols, widths, r)),
  }
}

/** First row to show so `selected` stays visible in a window of `height` rows. */
export function scrollStart(selected: number, count: number, height: number): number {
  if (height <= 0 || count <= height) return 0
  const half = Math.floor(height / 2)
  return Math.max(0, Math.min(count - height, selected - half))
}
