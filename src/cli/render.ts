// Human renderings of market results: pure functions from records to text (tests call them).
import { table } from './output.ts'
import { trafficCell } from '../tui/render/traffic.ts'
import { formatMoney } from '../market/pricing.ts'
import type { ConfigRow, PmRow, VmRow } from '../market/types.ts'
import type { ProviderMachine } from '../market/machines.ts'
import type { ReplayResult } from '../market/snapshot.ts'

const m = (v: number | null | undefined) => (v === null || v === undefined ? '-' : formatMoney(v))
const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : '-')
const dur = (s: number) =>
  s % 86400 === 0 ? `${s / 86400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`

export function ok(result: unknown): string {
  return result && typeof result === 'object' && Object.keys(result).length ? JSON.stringify(result, null, 2) : 'ok'
}

export function whoami(r: any): string {
  return `${r.username} (${r.type}), balance ${m(r.balance)}`
}

export function configs(r: any): string {
  const rows: ConfigRow[] = r.configs ?? r
  return table(rows, [
    { header: 'NAME', get: (c) => c.name },
    { header: 'OS', get: (c) => c.os ?? 'none' },
    { header: 'MEMORY', get: (c) => `${c.memory} MB`, align: 'right' },
    { header: 'DISK', get: (c) => `${c.hd} MB`, align: 'right' },
    { header: 'SPEED', get: (c) => c.speed, align: 'right' },
    { header: 'STORAGE/DAY', get: (c) => m(c.askedStoragePrice), align: 'right' },
    { header: 'RUNNING/HOUR', get: (c) => m(c.askedRunningPrice), align: 'right' },
  ])
}

export function providers(r: any): string {
  const rows: PmRow[] = r.pms ?? r
  const avg = r.averages
  const t = table(rows, [
    { header: 'PMID', get: (p) => p.id },
    { header: 'NAME', get: (p) => p.name },
    { header: 'OWNER', get: (p) => p.owner },
    { header: 'SPEED', get: (p) => `${p.speed - p.usedSpeed}/${p.speed}`, align: 'right' },
    { header: 'MEMORY', get: (p) => `${p.memory - p.usedMemory}/${p.memory}`, align: 'right' },
    { header: 'STORAGE', get: (p) => `${p.storage - p.usedStorage}/${p.storage}`, align: 'right' },
    { header: 'SPEED$/UNIT/S', get: (p) => `${m(p.speedPrice)}/${p.speedUnit}`, align: 'right' },
    { header: 'MEM$/UNIT/S', get: (p) => `${m(p.memoryPrice)}/${p.memoryUnit}`, align: 'right' },
    { header: 'STOR$/UNIT/DAY', get: (p) => `${m(p.storagePrice)}/${p.storageUnit}`, align: 'right' },
    { header: 'PERIODS', get: (p) => `${dur(p.runningPeriod)}/${dur(p.storagePeriod)}` },
    { header: 'MBIT/S', get: (p) => p.connectSpeed ?? '-', align: 'right' },
    { header: 'STATE', get: (p: any) => (p.drainUntil ? 'draining' : p.online === false ? 'offline' : 'open') },
  ])
  return avg && avg.machines
    ? `${t}\nmarket average over ${avg.machines} machines: speed ${m(avg.speedPerHour)}/hour, memory ` +
        `${m(avg.memoryPerHour)}/hour, storage ${m(avg.storagePerDay)}/day`
    : t
}

export function vm(v: VmRow): string {
  return [
    `machine ${v.id} (${v.name})`,
    `  state ${v.state}, version ${v.version}${v.pmId ? `, on ${v.pmId}` : ''}`,
    `  ${v.memory} MB memory, ${v.hd} MB disk, speed ${v.speed}, os ${v.os ?? 'none'}` +
      `${v.image ? `, image ${v.image}` : ''}${v.media ? `, media ${v.media.name}` : ''}`,
    v.pmId
      ? `  storage ${m(v.storagePrice)} per ${dur(v.storagePeriod)}, running ${m(v.runningPrice)} per ` +
        `${dur(v.runningPeriod)}`
      : `  bids: storage ${m(v.bidStorage)}/day, running ${m(v.bidRunning)}/hour`,
  ].join('\n')
}

/** A machine's image delivery as '37% of 1.2 GiB' while it runs, '-' otherwise. */
export function delivery(v: VmRow): string {
  const d = v.delivery
  if (!d) return '-'
  const pct = d.bytesTotal > 0 ? Math.min(100, Math.floor((d.bytesDone / d.bytesTotal) * 100)) : 0
  return `${pct}% of ${(d.bytesTotal / 1048576).toFixed(1)} MiB`
}

export function vmOrOk(r: any): string {
  return r && typeof r === 'object' && 'state' in r ? vm(r) : ok(r)
}

export function pmOrOk(r: any): string {
  if (r && typeof r === 'object' && 'nodeKey' in r) return providers([r])
  return ok(r)
}

export function machines(r: any): string {
  if (Array.isArray(r.vms)) {
    if (!r.vms.length) return 'no machines yet: `virtuoso configs`, then `virtuoso register --config NAME`'
    return table(r.vms as Array<VmRow & { actions?: string[] }>, [
      { header: 'VMID', get: (v) => v.id },
      { header: 'NAME', get: (v) => v.name },
      { header: 'STATE', get: (v) => v.state },
      { header: 'IMAGE', get: (v) => v.image ?? '-' },
      { header: 'DELIVERY', get: (v) => delivery(v) },
      { header: 'VER', get: (v) => v.version, align: 'right' },
      { header: 'PROVIDER', get: (v) => v.pmId },
      { header: 'NETWORK', get: (v: any) => (v.address ? `${v.netName ?? '?'} ${v.address}` : '-') },
      {
        header: 'STORAGE',
        get: (v) => (v.pmId ? `${m(v.storagePrice)}/${dur(v.storagePeriod)}` : '-'),
        align: 'right',
      },
      {
        header: 'RUNNING',
        get: (v) => (v.pmId ? `${m(v.runningPrice)}/${dur(v.runningPeriod)}` : '-'),
        align: 'right',
      },
      { header: 'ACTIONS', get: (v) => (v.actions ?? []).join(' ') },
    ])
  }
  const pms: ProviderMachine[] = r.pms ?? []
  if (!pms.length)
    return 'no physical machines yet: start `virtuoso node --market KEY`, then `virtuoso pm add --pairing CODE …`'
  return pms
    .map((p) => {
      const draining = p.drainUntil ? `  draining until ${new Date(p.drainUntil).toISOString()}` : ''
      const head =
        `${p.pmId}  ${p.name}  ${p.online ? 'online' : 'offline'}${draining}\n` +
        `  speed ${p.used.speed}/${p.total.speed} used, memory ${p.used.memory}/${p.total.memory} MB used, ` +
        `storage ${p.used.storage}/${p.total.storage} MB used`
      const vms = p.vms.map((v) => `    ${v.id}  ${v.owner}  ${v.state}  ${v.memory} MB  ${v.hd} MB  speed ${v.speed}`)
      return [head, ...vms].join('\n')
    })
    .join('\n')
}

export function networks(r: any): string {
  const nets: any[] = r.networks ?? []
  if (!nets.length) return 'no networks yet: `virtuoso net create NAME`, or register a machine (it joins `default`)'
  return nets
    .map((n) => {
      const head = `${n.name}  ${n.subnet}  ${n.members.length} machine(s)`
      const rows = n.members.map(
        (v: any) => `    ${v.address}  ${v.mac}  ${v.name}  ${v.state}${v.pmId ? `  on ${v.pmId}` : ''}`,
      )
      return [head, ...rows].join('\n')
    })
    .join('\n')
}

/** `net show NAME`: the network, then each machine with its address, provider and traffic so far. */
export function networkShow(n: any): string {
  const head = `${n.name}  ${n.subnet}  ${n.members.length} machine(s)`
  if (!n.members.length) return head
  const rows = table(n.members as any[], [
    { header: 'ADDRESS', get: (v) => v.address },
    { header: 'MAC', get: (v) => v.mac },
    { header: 'NAME', get: (v) => v.name || v.vmId },
    { header: 'STATE', get: (v) => v.state },
    { header: 'PROVIDER', get: (v) => v.pmId ?? '-' },
    { header: 'SENT', get: (v) => trafficCell(v.traffic?.sentBytes, v.traffic?.sentRate), align: 'right' },
    { header: 'RECEIVED', get: (v) => trafficCell(v.traffic?.recvBytes, v.traffic?.recvRate), align: 'right' },
    { header: 'DROPPED', get: (v) => v.traffic?.dropped ?? '-', align: 'right' },
  ])
  return `${head}\n${rows}`
}

/** `virtuoso traffic`: every machine's counters, with the rate between the node's last two reports. */
export function traffic(r: any): string {
  const rows: any[] = r.traffic ?? []
  if (!rows.length) return 'no traffic reported yet: a running machine with a network card reports every few seconds'
  return table(rows, [
    { header: 'VMID', get: (t) => t.vmId },
    { header: 'SENT', get: (t) => trafficCell(t.sentBytes, t.sentRate), align: 'right' },
    { header: 'FRAMES', get: (t) => t.sentFrames, align: 'right' },
    { header: 'RECEIVED', get: (t) => trafficCell(t.recvBytes, t.recvRate), align: 'right' },
    { header: 'FRAMES', get: (t) => t.recvFrames, align: 'right' },
    { header: 'DROPPED', get: (t) => t.dropped, align: 'right' },
  ])
}

export function network(n: any): string {
  return `network ${n.name} ${n.subnet}`
}

export function search(r: any): string {
  const rows: any[] = r.results ?? r
  if (!rows.length) return 'no provider machine has room for it right now'
  return table(rows, [
    { header: 'PMID', get: (x) => x.pmId },
    { header: 'NAME', get: (x) => x.name },
    { header: 'OWNER', get: (x) => x.owner },
    { header: 'STORAGE', get: (x) => `${m(x.storagePrice)}/${dur(x.storagePeriod)}`, align: 'right' },
    { header: 'RUNNING', get: (x) => `${m(x.runningPrice)}/${dur(x.runningPeriod)}`, align: 'right' },
    { header: 'PER DAY', get: (x) => m(x.storagePerDay), align: 'right' },
    { header: 'PER HOUR', get: (x) => m(x.runningPerHour), align: 'right' },
    { header: 'MBIT/S', get: (x) => x.connectSpeed ?? '-', align: 'right' },
    { header: 'BIDS', get: (x) => (x.withinBids ? 'within' : 'over') },
  ])
}

export function account(r: any): string {
  const lines = [`balance ${m(r.balance)}`]
  if (Array.isArray(r.vms) && r.vms.length) {
    lines.push(
      table(r.vms as any[], [
        { header: 'VMID', get: (v) => short(v.id) },
        { header: 'STATE', get: (v) => v.state },
        { header: 'STORAGE', get: (v) => `${m(v.storagePrice)}/${dur(v.storagePeriod)}`, align: 'right' },
        { header: 'RUNNING', get: (v) => `${m(v.runningPrice)}/${dur(v.runningPeriod)}`, align: 'right' },
        { header: 'CHARGED', get: (v) => m((v.chargedStorage ?? 0) + (v.chargedRunning ?? 0)), align: 'right' },
        { header: 'DEBT', get: (v) => m(v.storageDebt), align: 'right' },
        {
          header: 'EVICTABLE FROM',
          get: (v) => (v.evictableFrom ? new Date(v.evictableFrom).toISOString().slice(0, 16) : '-'),
        },
      ]),
    )
  }
  if (Array.isArray(r.pms)) {
    for (const p of r.pms) {
      lines.push(`${p.pmId} ${p.name ?? ''}: income ${m(p.income)}`)
      for (const v of p.vms ?? []) lines.push(`    ${v.vmId}  storage ${m(v.storage)}  running ${m(v.running)}`)
    }
  }
  return lines.join('\n')
}

export function event(e: any): string {
  return `${new Date(e.time).toISOString()}  ${String(e.origin).padEnd(14)} ${String(e.type).padEnd(16)} ${e.message}`
}

/** `admin verify`: the replay summary, then one row per account whose balance differs from its ledger. */
export function verify(r: ReplayResult): string {
  const lines = [
    `ledger replayed: ${r.entries} entries (last seq ${r.ledgerSeq}), ${r.accounts} accounts, ` +
      `deposits ${m(r.deposits)}`,
  ]
  for (const p of r.problems) lines.push(`ledger damaged: ${p}`)
  if (r.differences.length === 0 && r.problems.length === 0) lines.push('every balance matches the ledger')
  if (r.differences.length)
    lines.push(
      table(r.differences, [
        { header: 'ACCOUNT', get: (d) => d.username },
        { header: 'BALANCE', get: (d) => (d.balance === null ? 'no account' : m(d.balance)), align: 'right' },
        { header: 'LEDGER', get: (d) => m(d.ledger), align: 'right' },
        { header: 'DIFFERENCE', get: (d) => m(d.difference), align: 'right' },
      ]),
    )
  return lines.join('\n')
}
