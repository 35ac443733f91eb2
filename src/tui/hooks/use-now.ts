// A clock that ticks (heartbeat ages, ETAs, runways). Tests pass a fixed `now` instead.
import { useEffect, useState } from 'react'

export const DEFAULT_TICK_MS = 1000

export function useNow(fixed?: number, tickMs = DEFAULT_TICK_MS): number {
  const [now, setNow] = useState(() => fixed ?? Date.now())
  useEffect(() => {
    if (fixed !== undefined) return
    const t = setInterval(() => setNow(Date.now()), tickMs)
    return () => clearInterval(t)
  }, [fixed, tickMs])
  return fixed ?? now
}
