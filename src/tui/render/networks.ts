// The buyer's Networks view rows: each of my networks, then its machines with their address, the
// provider machine each runs on (a network spans providers: vnet@1 carries it between them) and the
// live traffic counters of its card (bytes the guest sent and received; the rates are in the machine's
// detail line).
// The MAC is in the machine's detail line (Machines view) and in `virtuoso net list`: no room here.
import type { NetRow, PmRow, VmRow } from '../../market/types.ts'
import type { TrafficRow } from '../../market/traffic.ts'
import type { Column } from './table.ts'
import { shortId } from './format.ts'
import { shortBytes } from './traffic.ts'

export const NET_COLUMNS: Column[] = [
  { header: 'NETWORK', min: 8 },
  { header: 'MACHINE', grow: true, min: 8 },
  { header: 'ADDRESS', min: 14 }, // a subnet, 192.168.9.0/24, whole
  { header: 'RUNS ON', min: 8 },
  { header: 'STATE', min: 9 },
  { header: 'SENT', align: 'right', min: 5 },
  { header: 'RECV', align: 'right', min: 5 },
]

/** One row per network (name, member count, subnet, providers running its machines, traffic of all its
 *  machines), then one per member. */
export function networkRows(
  nets: NetRow[],
  vms: VmRow[],
  pms: ReadonlyMap<string, PmRow>,
  traffic: ReadonlyMap<string, TrafficRow> = new Map(),
): string[][] {
  const rows: string[][] = []
  const sorted = [...nets].sort((a, b) => a.name.localeCompare(b.name))
  for (const n of sorted) {
    const members = vms
      .filter((v) => v.netId === n.id)
      .sort((a, b) => (a.address ?? '').localeCompare(b.address ?? '', undefined, { numeric: true }))
    const where = new Set(members.filter((v) => v.state === 'started' && v.pmId).map((v) => v.pmId))
    // The network's own row: its subnet under ADDRESS, how many providers carry it under RUNS ON.
    const count = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`
    const seen = members.map((v) => traffic.get(v.id)).filter((t): t is TrafficRow => !!t)
    const sum = (f: 'sentBytes' | 'recvBytes') => (seen.length ? shortBytes(seen.reduce((a, t) => a + t[f], 0)) : '')
    const head = [n.name, count(members.length, 'machine'), n.subnet, count(where.size, 'provider'), '']
    rows.push([...head, sum('sentBytes'), sum('recvBytes')])
    for (const v of members) {
      const t = traffic.get(v.id)
      rows.push([
        '',
        v.name || shortId(v.id),
        v.address ?? '-',
        v.pmId ? (pms.get(v.pmId)?.name ?? shortId(v.pmId)) : '-',
        v.state,
        t ? shortBytes(t.sentBytes) : '',
        t ? shortBytes(t.recvBytes) : '',
      ])
    }
  }
  return rows
}
