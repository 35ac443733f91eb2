// Machines view rows: a buyer's virtual machines with only the actions their state allows
// (report §6.1.7, the market's STATUS_RELATIONS), and a provider's physical machines with the
// virtual machines on each.
import type { PmRow, VmAction, VmRow, VmState } from '../../market/types.ts'
import { allowedActions } from '../../market/statusrelations.ts'
import type { Column } from './table.ts'
import { bytes, mb, money, period, shortId } from './format.ts'

/** The key and label of each statusrelations action in the buyer's Machines view. */
export const VM_ACTION_KEYS: Record<VmAction, { key: string; description: string; dangerous: boolean }> = {
  search: { key: 'f', description: 'find providers', dangerous: false },
  store: { key: 't', description: 'store on…', dangerous: false },
  edit: { key: 'e', description: 'edit', dangerous: false },
  start: { key: 's', description: 'start', dangerous: false },
  stop: { key: 'x', description: 'stop', dangerous: true },
  view: { key: 'v', description: 'console', dangerous: false },
  suspend: { key: 'z', description: 'suspend', dangerous: true },
  resume: { key: 'r', description: 'resume', dangerous: false },
  migrate: { key: 'm', description: 'migrate', dangerous: true },
  migrationstatus: { key: 'w', description: 'watch migration', dangerous: false },
  delete: { key: 'd', description: 'delete', dangerous: true },
}

/** Actions for a machine: the row's own list when the hub sent one, else the statusrelations table. */
export function vmActions(vm: Pick<VmRow, 'state'> & { actions?: string[] }): VmAction[] {
  const known = new Set(Object.keys(VM_ACTION_KEYS))
  if (Array.isArray(vm.actions)) return vm.actions.filter((a): a is VmAction => known.has(a))
  return [...allowedActions(vm.state as VmState)]
}

export const VM_COLUMNS: Column[] = [
  { header: 'NAME', grow: true, min: 8 },
  { header: 'STATE', min: 9 },
  { header: 'VER', align: 'right', min: 3 },
  { header: 'PROVIDER', min: 8 },
  { header: 'STORAGE', align: 'right', min: 8 },
  { header: 'RUNNING', align: 'right', min: 8 },
  { header: 'ACTIONS', min: 10 },
]

export function vmRow(v: VmRow & { actions?: string[] }, pms: ReadonlyMap<string, PmRow>): string[] {
  const pm = v.pmId ? pms.get(v.pmId) : undefined
  return [
    v.name || shortId(v.id),
    v.delivery ? `${v.state} ${deliveryPercent(v)}%` : v.state,
    String(v.version),
    v.pmId ? (pm?.name ?? shortId(v.pmId)) : '-',
    v.pmId ? `${money(v.storagePrice)}/${period(v.storagePeriod)}` : '-',
    v.pmId ? `${money(v.runningPrice)}/${period(v.runningPeriod)}` : '-',
    vmActions(v)
      .map((a) => VM_ACTION_KEYS[a].description.replace('…', ''))
      .join(','),
  ]
}

/** How far a machine's image delivery is, 0-100 (its row shows it beside 'migrating'). */
export function deliveryPercent(v: VmRow): number {
  const d = v.delivery
  if (!d || d.bytesTotal <= 0) return 0
  return Math.min(100, Math.floor((d.bytesDone / d.bytesTotal) * 100))
}

/** The detail lines under the table for the selected machine. */
export function vmDetails(v: VmRow, pm: PmRow | undefined): string[] {
  const lines = [
    `${v.id}  ${v.configName ? `config ${v.configName}, ` : ''}${mb(v.memory)} mem, ${mb(v.hd)} disk, speed ` +
      `${v.speed}, os ${v.os ?? 'blank'}`,
  ]
  if (v.image) {
    const d = v.delivery
    lines.push(
      d
        ? `image ${v.image}: delivering to ${d.pmId.slice(0, 8)}, ${deliveryPercent(v)}% of ` +
            mb(Math.ceil(d.bytesTotal / 1048576))
        : `image ${v.image} (digest ${String(v.imageDigest).slice(0, 12)}…)` +
            (v.delivered
              ? `, delivered ${mb(Math.round(v.delivered.bytes / 1048576))} in ${(v.delivered.ms / 1000).toFixed(1)} s`
              : ''),
    )
  }
  if (v.media)
    lines.push(
      `media ${v.media.name} (${bytes(v.media.size)}, digest ${v.media.digest.slice(0, 12)}…) as its CD-ROM; ` +
        `\`virtuoso media detach ${v.id}\` removes it`,
    )
  if (v.pmId) {
    lines.push(
      `on ${pm ? `${pm.name} (${pm.owner})` : v.pmId}: storage ${money(v.storagePrice)} per ` +
        `${period(v.storagePeriod)}, running ${money(v.runningPrice)} per ${period(v.runningPeriod)}; charged ` +
        `${money(v.chargedStorage + v.chargedRunning)}`,
    )
  } else {
    lines.push(
      `bids: storage ${v.bidStorage === null ? 'any' : money(v.bidStorage)}/day, running ` +
        `${v.bidRunning === null ? 'any' : money(v.bidRunning)}/hour`,
    )
  }
  if (v.address) lines.push(`network address ${v.address}, MAC ${v.mac ?? '-'}`)
  return lines
}

export type PmWithStatus = PmRow & { online?: boolean }

export function pmState(p: PmWithStatus): string {
  if (p.drainUntil) return 'draining'
  if (p.online === undefined) return '?'
  return p.online ? 'online' : 'offline'
}

export const PM_COLUMNS: Column[] = [
  { header: 'NAME', grow: true, min: 8 },
  { header: 'STATE', min: 7 },
  { header: 'CPU USED/ALL', align: 'right', min: 9 },
  { header: 'MEM USED/ALL', align: 'right', min: 9 },
  { header: 'DISK USED/ALL', align: 'right', min: 9 },
  { header: 'VMS', align: 'right', min: 3 },
]

export function pmRow(p: PmWithStatus, vmCount: number): string[] {
  return [
    p.name,
    pmState(p),
    `${p.usedSpeed}/${p.speed}`,
    `${mb(p.usedMemory)}/${mb(p.memory)}`,
    `${mb(p.usedStorage)}/${mb(p.storage)}`,
    String(vmCount),
  ]
}

export function pmPriceLine(p: PmRow): string {
  return (
    `asks: speed ${money(p.speedPrice)}/s per ${p.speedUnit}bm · mem ${money(p.memoryPrice)}/s per ` +
    `${mb(p.memoryUnit)} · disk ${money(p.storagePrice)}/day per ${mb(p.storageUnit)} · charge every ` +
    `${period(p.runningPeriod)} / ${period(p.storagePeriod)}`
  )
}

export const PM_VM_COLUMNS: Column[] = [
  { header: 'VM', min: 8 },
  { header: 'OWNER', min: 6 },
  { header: 'STATE', min: 9 },
  { header: 'MEM', align: 'right' },
  { header: 'DISK', align: 'right' },
  { header: 'SPEED', align: 'right' },
  { header: 'EARNS', align: 'right', grow: true, min: 8 },
]

export function pmVmRow(v: VmRow): string[] {
  return [
    v.name || shortId(v.id),
    v.owner,
    v.state,
    mb(v.memory),
    mb(v.hd),
    String(v.speed),
    `${money(v.runningPrice)}/${period(v.runningPeriod)}`,
  ]
}

/** Free = total - used, never negative. */
export function free(p: PmRow): { speed: number; memory: number; storage: number } {
  return {
    speed: Math.max(0, p.speed - p.usedSpeed),
    memory: Math.max(0, p.memory - p.usedMemory),
    storage: Math.max(0, p.storage - p.usedStorage),
  }
}
