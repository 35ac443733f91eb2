// Registering and listing machines (the report's mycomputers). A registered machine is only a row:
// nothing exists on a provider until it is stored (lifecycle.ts).
import { randomUUID } from 'node:crypto'
import type { Ctx } from './context.ts'
import { ownVm, requireBuyer, requireUser } from './context.ts'
import { findConfig, MIN_HD_MB } from './catalog.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { free } from './search.ts'
import { resolveOs } from './images.ts'
import { allowedActions } from './statusrelations.ts'
import { assignNic } from './networks.ts'
import type { Identity, Micro, VmAction, VmRow } from './types.ts'
import { newHostKey } from './host-key.ts'

export const LIMITS = {
  memory: [16, 1_048_576],
  hd: [MIN_HD_MB, 16_777_216],
  speed: [1, 100_000_000],
} as const
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/
const OS = /^[a-z0-9][a-z0-9._-]{0,31}$/

export interface RegisterInput {
  config?: string
  name?: string
  memory?: number
  hd?: number
  speed?: number
  os?: string | null
  /** A catalog image (see images.ts); its OS becomes the machine's. */
  image?: string | null
  bidStorage?: Micro | null
  bidRunning?: Micro | null
  /** The buyer's network to join (default: `default`, made on first use). */
  net?: string
  /** A .pub file's text: its key lines go to root in the guest at boot (`register --ssh-key FILE`). */
  sshKey?: string
}

/** One OpenSSH public key line (the hypervisor's first-boot seed takes nothing else). */
const SSH_KEY = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^"\n\r]*)?$/

function checkSshKeys(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined
  const keys =
    typeof v === 'string'
      ? v
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('#'))
      : []
  if (!keys.length || keys.length > 32 || !keys.every((k) => SSH_KEY.test(k)))
    throw errors.badInput('sshKey', 'give an OpenSSH public key file (.pub), e.g. ssh-ed25519 AAAA… you@host')
  return keys
}

function checkInt(what: keyof typeof LIMITS, v: unknown): number {
  const [lo, hi] = LIMITS[what]
  if (!Number.isSafeInteger(v) || (v as number) < lo || (v as number) > hi)
    throw errors.badInput(what, `must be a whole number from ${lo} to ${hi}`)
  return v as number
}

function checkBid(what: string, v: unknown): Micro | null {
  if (v === null || v === undefined) return null
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw errors.badInput(what, 'must be a non-negative amount')
  return v as number
}

/** The name a person gives a machine or a provider machine (not a file name: vmmp/paths.ts checks those). */
export function checkDisplayName(v: unknown, what = 'name'): string {
  if (typeof v !== 'string' || !NAME.test(v))
    throw errors.badInput(what, 'use 1 to 64 letters, digits, spaces, dots, _ or -, starting with a letter or digit')
  return v
}

function checkOs(v: unknown): string | null {
  if (v === null || v === undefined) return null
  if (typeof v !== 'string' || !OS.test(v)) throw errors.badInput('os', 'use a short lowercase name such as linux')
  return v
}

export async function register(ctx: Ctx, who: Identity | null, input: RegisterInput): Promise<VmRow> {
  const buyer = requireBuyer(who, 'register')
  const id = randomUUID()
  let base: Pick<VmRow, 'configName' | 'processor' | 'os' | 'memory' | 'hd' | 'speed'>
  if (input.config !== undefined) {
    // A standard configuration fixes the sizes; an override used to be dropped without a word.
    const extra = (['memory', 'hd', 'speed'] as const).filter((k) => input[k] !== undefined && input[k] !== null)
    if (extra.length)
      throw errors.badInput(
        extra.map((k) => `--${k}`).join(', '),
        `--config fixes memory, hd and speed; register with --config alone and change sizes with \`virtuoso ` +
          `edit\`, or give all three sizes without --config`,
      )
    const c = findConfig(ctx, input.config)
    base = { configName: c.name, processor: c.processor, os: c.os, memory: c.memory, hd: c.hd, speed: c.speed }
    if (input.os !== undefined) base.os = checkOs(input.os)
    if (input.image === undefined && input.os === undefined && c.image) input = { ...input, image: c.image }
  } else {
    base = {
      configName: null,
      processor: 'x86_64',
      os: checkOs(input.os),
      memory: checkInt('memory', input.memory),
      hd: checkInt('hd', input.hd),
      speed: checkInt('speed', input.speed),
    }
  }
  const os =
    input.image !== undefined && input.image !== null
      ? resolveOs(ctx, { image: input.image, os: input.os === undefined ? undefined : checkOs(input.os) }, base.hd)
      : resolveOs(ctx, { os: base.os }, base.hd)
  const sshKeys = checkSshKeys(input.sshKey)
  const now = ctx.clock()
  const nic = assignNic(ctx, buyer.username, input.net)
  const hostKey = newHostKey(id)
  const vm: VmRow = {
    id,
    owner: buyer.username,
    name: input.name !== undefined ? checkDisplayName(input.name) : (base.configName ?? `vm-${id.slice(0, 8)}`),
    ...base,
    ...os,
    state: 'registered',
    prevState: null,
    version: 0,
    pmId: null,
    storagePrice: 0,
    storagePeriod: 0,
    runningPrice: 0,
    runningPeriod: 0,
    bidStorage: checkBid('bidStorage', input.bidStorage),
    bidRunning: checkBid('bidRunning', input.bidRunning),
    lastDebitedStorage: null,
    lastDebitedRunning: null,
    runningCredit: 0,
    runningPaidUntil: null,
    storageDebt: 0,
    chargedStorage: 0,
    chargedRunning: 0,
    created: now,
    ...nic.fields,
    ...(sshKeys ? { sshKeys } : {}),
    hostKey: hostKey.public,
  }
  await ctx.store.write([
    ...nic.ops,
    { type: 'put', table: 'vm', key: id, value: vm },
    { type: 'put', table: 'hostkeys', key: id, value: { vmId: id, private: hostKey.private } },
    eventOp(now, {
      origin: userOrigin(buyer),
      type: 'vm.register',
      message: `registered ${vm.name} (${vm.memory} MB, ${vm.hd} MB disk, ${vm.speed} bogomips)`,
      users: [buyer.username],
      vmId: id,
    }),
  ])
  return vm
}

export type EditInput = Omit<RegisterInput, 'config' | 'net'>

export async function edit(ctx: Ctx, who: Identity | null, vmId: string, patch: EditInput): Promise<VmRow> {
  const buyer = requireBuyer(who, 'edit')
  const vm = { ...ownVm(ctx, buyer, vmId) }
  if (vm.state !== 'registered') throw errors.actionNotAllowed('edit', vm.state, allowedActions(vm.state))
  if (patch.name !== undefined) vm.name = checkDisplayName(patch.name)
  for (const k of ['memory', 'hd', 'speed'] as const) {
    if (patch[k] === undefined) continue
    vm[k] = checkInt(k, patch[k])
    vm.configName = null // no longer a standard configuration
  }
  if (patch.os !== undefined || patch.image !== undefined) {
    const os = patch.os !== undefined ? checkOs(patch.os) : undefined
    Object.assign(vm, resolveOs(ctx, { os, image: patch.image ?? (os === undefined ? vm.image : undefined) }, vm.hd))
  } else if (vm.image) Object.assign(vm, resolveOs(ctx, { image: vm.image }, vm.hd)) // a smaller disk must still fit
  if (patch.bidStorage !== undefined) vm.bidStorage = checkBid('bidStorage', patch.bidStorage)
  if (patch.bidRunning !== undefined) vm.bidRunning = checkBid('bidRunning', patch.bidRunning)
  await ctx.store.write([
    { type: 'put', table: 'vm', key: vm.id, value: vm },
    eventOp(ctx.clock(), {
      origin: userOrigin(buyer),
      type: 'vm.edit',
      message: `edited ${vm.name}`,
      users: [buyer.username],
      vmId: vm.id,
    }),
  ])
  return vm
}

export interface BuyerMachine extends VmRow {
  provider: { pmId: string; name: string; owner: string; online: boolean } | null
  actions: readonly VmAction[]
  /** The name of its network (see VmRow.netId, address, mac). */
  netName: string | null
}

export interface ProviderMachine {
  pmId: string
  name: string
  nodeKey: string
  online: boolean
  processor: string
  total: { speed: number; memory: number; storage: number }
  used: { speed: number; memory: number; storage: number }
  free: { speed: number; memory: number; storage: number }
  drainUntil: number | null
  vms: ProviderVm[]
}

/** What a provider sees of the machines stored on its own: who, state, sizes and prices (no keys, no network). */
const PROVIDER_VM_FIELDS = [
  ...['id', 'owner', 'name', 'state', 'version', 'memory', 'hd', 'speed'],
  ...['storagePrice', 'storagePeriod', 'runningPrice', 'runningPeriod'],
] as const
export type ProviderVm = Pick<VmRow, (typeof PROVIDER_VM_FIELDS)[number]>

const providerVm = (vm: VmRow) => Object.fromEntries(PROVIDER_VM_FIELDS.map((f) => [f, vm[f]])) as ProviderVm

export function machines(
  ctx: Ctx,
  who: Identity | null,
): { type: 'buyer'; vms: BuyerMachine[] } | { type: 'provider'; pms: ProviderMachine[] } {
  const me = requireUser(who)
  if (me.type === 'buyer') {
    const vms: BuyerMachine[] = []
    for (const vm of ctx.store.values('vm')) {
      if (vm.owner !== me.username) continue
      const pm = vm.pmId ? ctx.store.get('pm', vm.pmId) : undefined
      vms.push({
        ...vm,
        provider: pm ? { pmId: pm.id, name: pm.name, owner: pm.owner, online: ctx.gateway.online(pm.nodeKey) } : null,
        actions: allowedActions(vm.state),
        netName: vm.netId ? (ctx.store.get('networks', vm.netId)?.name ?? null) : null,
      })
    }
    return { type: 'buyer', vms: vms.sort((a, b) => a.created - b.created || a.id.localeCompare(b.id)) }
  }
  const pms = new Map<string, ProviderMachine>()
  for (const pm of ctx.store.values('pm')) {
    if (pm.owner !== me.username) continue
    pms.set(pm.id, {
      pmId: pm.id,
      name: pm.name,
      nodeKey: pm.nodeKey,
      online: ctx.gateway.online(pm.nodeKey),
      processor: pm.processor,
      total: { speed: pm.speed, memory: pm.memory, storage: pm.storage },
      used: { speed: pm.usedSpeed, memory: pm.usedMemory, storage: pm.usedStorage },
      free: free(pm),
      drainUntil: pm.drainUntil,
      vms: [],
    })
  }
  if (pms.size) {
    for (const vm of ctx.store.values('vm')) {
      const entry = vm.pmId ? pms.get(vm.pmId) : undefined
      if (!entry) continue
      entry.vms.push(providerVm(vm))
    }
  }
  return { type: 'provider', pms: [...pms.values()] }
}
