// A cursor over a list: ↑/↓ (or k/j), PgUp/PgDn, Home/End. Stays in range as the list changes live.
import { useEffect, useState } from 'react'
import { useKeys } from './use-keys.ts'
import { useFrame } from './use-frame.ts'

export function clampIndex(i: number, count: number): number {
  return count <= 0 ? 0 : Math.max(0, Math.min(count - 1, i))
}

/** The index after a navigation key, or null when the key is not one. */
export function moveIndex(i: number, name: string, count: number, page: number): number | null {
  switch (name) {
    case 'up':
    case 'k':
      return clampIndex(i - 1, count)
    case 'down':
    case 'j':
      return clampIndex(i + 1, count)
    case 'pgup':
      return clampIndex(i - Math.max(1, page), count)
    case 'pgdn':
      return clampIndex(i + Math.max(1, page), count)
    case 'home':
    case 'g':
      return 0
    case 'end':
    case 'G':
      return clampIndex(count - 1, count)
    default:
      return null
  }
}

export function useSelection(
  count: number,
  opts: { active?: boolean; page?: number } = {},
): [number, (i: number) => void] {
  const frame = useFrame()
  const [index, setIndex] = useState(0)
  useEffect(() => {
    if (index !== clampIndex(index, count)) setIndex(clampIndex(index, count))
  }, [count, index])
  useKeys(
    (name) => {
      const next = moveIndex(index, name, count, opts.page ?? 10)
      if (next !== null) setIndex(next)
    },
    (opts.active ?? true) && frame.inputFree,
  )
  return [clampIndex(index, count), setIndex]
}
