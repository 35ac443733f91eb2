// The live traffic counters of the machines I may see (market@1 `traffic`), asked again every few
// seconds while a view that shows them is open. They are not in the change feed: values that change
// every few seconds are no market record (src/market/traffic.ts). A failed poll keeps the last figures.
import { useEffect, useRef, useState } from 'react'
import type { TrafficRow } from '../../market/traffic.ts'

export const TRAFFIC_POLL_MS = 2000

export type LoadTraffic = () => Promise<{ traffic?: TrafficRow[] }>

export function useTraffic(
  load: LoadTraffic | undefined,
  active: boolean,
  everyMs = TRAFFIC_POLL_MS,
): Map<string, TrafficRow> {
  const [rows, setRows] = useState<Map<string, TrafficRow>>(() => new Map())
  // The latest loader, so a parent that makes a new function each render does not restart the timer.
  const loader = useRef(load)
  loader.current = load
  const has = !!load
  useEffect(() => {
    if (!active || !has) return
    let live = true
    const poll = () =>
      Promise.resolve()
        .then(() => loader.current?.())
        .then((r) => {
          if (live && Array.isArray(r?.traffic)) setRows(new Map(r.traffic.map((t) => [t.vmId, t])))
        })
        .catch(() => {})
    void poll()
    const t = setInterval(() => void poll(), everyMs)
    return () => {
      live = false
      clearInterval(t)
    }
  }, [has, active, everyMs])
  return rows
}
