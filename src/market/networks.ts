// The buyers' networks (report §6.2.3, VNET): each machine has a network card whose MAC the market
// issues (locally administered, unique in the market, never reused, kept for the machine's life and
// across migrations) and an address in one of its owner's networks. A buyer's first machine makes the
// network `default` when none is named. Providers carry the frames (src/vnet); the market only assigns.
import { randomUUID } from 'node:crypto'
import type { Ctx } from './context.ts'
import { requireBuyer } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import type { Op } from './store.ts'
import type { Identity, NetRow, VmRow, VmState } from './types.ts'

export const DEFAULT_NET = 'default'
export const DEFAULT_SUBNET = '10.42.0.0/24'
const NET_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/
/** Locally administered (bit 1) unicast (bit 0 clear) MACs: 02:xx:xx:xx:xx:xx, 2^40 of them. */
const MAC_PREFIX = 0x02
const MAC_SEQ = 'macSeq'
const UPLINK_SUBNET = '10.0.2.0/24'
const UPLINK_PREFIX = 24

function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number)
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0
}
const intToIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
const maskOf = (prefix: number) => (0xffffffff << (32 - prefix)) >>> 0
const UPLINK_BASE = ipToInt('10.0.2.0')

/** Private IPv4 ranges (RFC 1918): a buyer's LAN must not shadow a public address. */
const PRIVATE: Array<[number, number]> = [
  [ipToInt('10.0.0.0'), 8],
  [ipToInt('172.16.0.0'), 12],
  [ipToInt('192.168.0.0'), 16],
]

export function parseSubnet(text: unknown): { base: number; prefix: number } {
  const m = typeof text === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text) : null
  const why = 'give a private IPv4 network such as 10.42.0.0/24 (prefix 16 to 29, host bits zero)'
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255)) throw errors.badInput('subnet', why)
  const base = ipToInt(m.slice(1, 5).join('.'))
  const prefix = Number(m[5])
  const mask = maskOf(prefix)
  if (prefix < 16 || prefix > 29 || (base & ~mask) >>> 0 !== 0) throw errors.badInput('subnet', why)
  const inside = PRIVATE.some(([b, p]) => p <= prefix && (base & maskOf(p)) >>> 0 === b)
  if (!inside) throw errors.badInput('subnet', why)
  return { base, prefix }
}

/**
 * Every guest's second card (its uplink, QEMU's user-mode network, src/hv/qemu/args.ts) is on
 * 10.0.2.0/24: a buyer network over it would give the guest two routes to the same addresses.
 * Checked when a network is made (networks stored before the check keep working as they did).
 */
function refuseUplinkOverlap(text: string, { base, prefix }: { base: number; prefix: number }): void {
  const mask = maskOf(Math.min(prefix, UPLINK_PREFIX))
  if ((base & mask) >>> 0 === (UPLINK_BASE & mask) >>> 0)
    throw errors.badInput('subnet', `${text} overlaps ${UPLINK_SUBNET}, the guests' uplink network; pick another`)
}

export function prefixOf(net: NetRow): number {
  return Number(net.subnet.split('/')[1])
}

function checkNetName(v: unknown): string {
  if (typeof v !== 'string' || !NET_NAME.test(v))
    throw errors.badInput(
      'network name',
      'use 1 to 32 lowercase letters, digits, _ or -, starting with a letter or digit',
    )
  return v
}

export function findNet(ctx: Ctx, owner: string, name: string): NetRow | undefined {
  for (const n of ctx.store.values('networks')) if (n.owner === owner && n.name === name) return n
  return undefined
}

function newNet(ctx: Ctx, owner: string, name: string, subnet: string): NetRow {
  const { base, prefix } = parseSubnet(subnet)
  return { id: randomUUID(), owner, name, subnet: `${intToIp(base)}/${prefix}`, created: ctx.clock() }
}

export async function netCreate(ctx: Ctx, who: Identity | null, input: { name: string; subnet?: string }) {
  const buyer = requireBuyer(who, 'create a network')
  const name = checkNetName(input.name)
  const net = newNet(ctx, buyer.username, name, input.subnet ?? DEFAULT_SUBNET)
  refuseUplinkOverlap(net.subnet, parseSubnet(net.subnet))
  if (findNet(ctx, buyer.username, name)) throw errors.netExists(name)
  await ctx.store.write([
    { type: 'put', table: 'networks', key: net.id, value: net },
    eventOp(net.created, {
      origin: userOrigin(buyer),
      type: 'net.create',
      message: `created network ${name} (${net.subnet})`,
      users: [buyer.username],
    }),
  ])
  return net
}

export interface NetMember {
  vmId: string
  name: string
  state: VmState
  address: string | null
  mac: string | null
  pmId: string | null
}

export function netList(ctx: Ctx, who: Identity | null): Array<NetRow & { members: NetMember[] }> {
  const buyer = requireBuyer(who, 'list networks')
  const nets = [...ctx.store.values('networks')].filter((n) => n.owner === buyer.username)
  const members = new Map<string, NetMember[]>(nets.map((n) => [n.id, []]))
  for (const vm of ctx.store.values('vm')) {
    const list = vm.netId ? members.get(vm.netId) : undefined
    if (!list) continue
    const { id: vmId, name, state, pmId } = vm
    list.push({ vmId, name, state, address: vm.address ?? null, mac: vm.mac ?? null, pmId })
  }
  return nets
    .sort((a, b) => a.created - b.created || a.name.localeCompare(b.name))
    .map((n) => ({ ...n, members: members.get(n.id)! }))
}

export async function netDelete(ctx: Ctx, who: Identity | null, name: string): Promise<void> {
  const buyer = requireBuyer(who, 'delete a network')
  const net = findNet(ctx, buyer.username, checkNetName(name))
  if (!net) throw errors.notFound('network', name)
  const count = [...ctx.store.values('vm')].filter((v) => v.netId === net.id).length
  if (count > 0) throw errors.netInUse(name, count)
  await ctx.store.write([
    { type: 'del', table: 'networks', key: net.id },
    eventOp(ctx.clock(), {
      origin: userOrigin(buyer),
      type: 'net.delete',
      message: `deleted network ${name}`,
      users: [buyer.username],
    }),
  ])
}

/**
 * The network card of a new machine: ops to write in the same batch as the machine (a new default
 * network, the MAC counter) and the fields to set on it. Synchronous, so nothing else can take the
 * same address or MAC before the batch is written.
 */
export function assignNic(
  ctx: Ctx,
  owner: string,
  netName: string | undefined,
): { ops: Op[]; fields: Required<Pick<VmRow, 'netId' | 'address' | 'mac'>> } {
  const ops: Op[] = []
  const name = netName === undefined ? DEFAULT_NET : checkNetName(netName)
  let net = findNet(ctx, owner, name)
  if (!net) {
    if (netName !== undefined && name !== DEFAULT_NET) throw errors.notFound('network', name)
    net = newNet(ctx, owner, DEFAULT_NET, DEFAULT_SUBNET)
    ops.push({ type: 'put', table: 'networks', key: net.id, value: net })
  }
  const { base, prefix } = parseSubnet(net.subnet)
  const used = new Set<string>()
  for (const vm of ctx.store.values('vm')) if (vm.netId === net.id && vm.address) used.add(vm.address)
  // .0 is the network, .1 the switch (DHCP server), the last the broadcast.
  let address: string | null = null
  for (let n = base + 2; n < base + 2 ** (32 - prefix) - 1; n++) {
    const a = intToIp(n)
    if (!used.has(a)) {
      address = a
      break
    }
  }
  if (!address) throw errors.netFull(net.name, net.subnet)
  const seq = ((ctx.store.get('meta', MAC_SEQ) as number | undefined) ?? 0) + 1
  ops.push({ type: 'put', table: 'meta', key: MAC_SEQ, value: seq })
  const bytes = [MAC_PREFIX]
  for (let i = 4; i >= 0; i--) bytes.push(Math.floor(seq / 256 ** i) % 256)
  const mac = bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')
  return { ops, fields: { netId: net.id, address, mac } }
}

/** What a provider needs to give the machine its card; null for machines made before networks. */
export function nicOf(ctx: Ctx, vm: VmRow): { mac: string; net: string; address: string; prefix: number } | null {
  if (!vm.netId || !vm.mac || !vm.address) return null
  const net = ctx.store.get('networks', vm.netId)
  if (!net) return null
  return { mac: vm.mac, net: net.id, address: vm.address, prefix: prefixOf(net) }
}

/** The hypervisor configuration of a machine, as sent to a provider (store, migration). */
export function hvConfig(ctx: Ctx, vm: VmRow) {
  const nic = nicOf(ctx, vm)
  return { memory: vm.memory, hd: vm.hd, speed: vm.speed, os: vm.os, ...(nic ? { nic } : {}) }
}

/** Node keys of the providers holding a machine of network `net`. */
export function networkNodes(ctx: Ctx, net: string): string[] {
  const keys = new Set<string>()
  for (const vm of ctx.store.values('vm')) {
    if (vm.netId !== net || !vm.pmId) continue
    const pm = ctx.store.get('pm', vm.pmId)
    if (pm) keys.add(pm.nodeKey)
  }
  return [...keys]
}
