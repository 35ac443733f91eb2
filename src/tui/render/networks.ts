// The buyer's Networks view rows: each of my networks, then its machines with their address, MAC,
// and the provider machine each runs on (a network spans providers: vnet@1 carries it between them).
import type { NetRow, PmRow, VmRow } from '../../market/types.ts'
import type { Column } from './table.ts'
import { shortId } from './format.ts'

export const NET_COLUMNS: Column[] = [
  { header: 'NETWORK', min: 8 },
  { header: 'MACHINE', grow: true, min: 8 },
  { header: 'ADDRESS', min: 9 },
  { header: 'MAC', min: 8 },
  { header: 'RUNS ON', min: 8 },
  { header: 'STATE', min: 9 },
]

/** One row per network (name, member count, subnet, providers running its machines), then one per member. */
export function networkRows(nets: NetRow[], vms: VmRow[], pms: ReadonlyMap<string, PmRow>): string[][] {
  const rows: string[][] = []
  const sorted = [...nets].sort((a, b) => a.name.localeCompare(b.name))
  for (const n of sorted) {
    const members = vms
      .filter((v) => v.netId === n.id)
      .sort((a, b) => (a.address ?? '').localeCompare(b.address ?? '', undefined, { numeric: true }))
    const where = new Set(members.filter((v) => v.state === 'started' && v.pmId).map((v) => v.pmId))
    // The network's own row: its subnet under ADDRESS, how many providers carry it under RUNS ON.
    const count = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`
    rows.push([n.name, count(members.length, 'machine'), n.subnet, '', count(where.size, 'provider'), ''])
    for (const v of members)
      rows.push([
        '',
        v.name || shortId(v.id),
        v.address ?? '-',
        v.mac ?? '-',
        v.pmId ? (pms.get(v.pmId)?.name ?? shortId(v.pmId)) : '-',
        v.state,
      ])
  }
  return rows
}
