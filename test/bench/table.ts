// One row of `npm run bench`: what was measured, beside its target or the peer it must beat.
export interface BenchRow {
  name: string
  value: number | string
  unit: string
  target: string
  /** The same step done by the peer we compare with (OpenSSH, bare QEMU, …), measured in the same run. */
  peer?: number | string
  peerName?: string
}

export function printTable(title: string, rows: BenchRow[]): void {
  const cells = rows.map((r) => [
    r.name,
    `${r.value} ${r.unit}`,
    r.peer === undefined ? '' : `${r.peer} ${r.unit} (${r.peerName ?? 'peer'})`,
    r.target,
  ])
  const head = ['measure', 'virtuoso', 'peer, same run', 'target']
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c: string[]) => c.map((x, i) => x.padEnd(w[i])).join('  ')
  console.log(`\n== ${title} ==`)
  console.log(line(head))
  console.log(w.map((n) => '-'.repeat(n)).join('  '))
  for (const c of cells) console.log(line(c))
}
