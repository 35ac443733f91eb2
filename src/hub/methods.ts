// The RPC methods the hub serves (market@1 to network clients; adminMethods only on the local admin
// socket): each names who may call it, the schema of its params (checked before any rule runs, see
// market/params.ts) and the Market call it makes. Money travels as decimal strings ("0.0005"),
// parsed exactly; results carry integer micro-units. Authorization is checked again inside the Market.
import type { Market } from '../market/market.ts'
import type { Identity } from '../market/types.ts'
import { SORT_KEYS } from '../market/search.ts'
import { drainMsOf, money, opt, parseParams, sheetOf, text, whole, type Schema } from '../market/params.ts'

export type Auth = 'none' | 'user' | 'buyer' | 'provider'
export interface MethodDef {
  auth: Auth
  /** The params it takes, and those it requires (the authorization suite fills them with other
   *  tenants' ids, so a new method is covered without being named there). */
  fields: readonly string[]
  required: readonly string[]
  run(market: Market, who: Identity | null, params: unknown): Promise<unknown>
}

function def(
  auth: Auth,
  schema: Schema,
  run: (m: Market, who: Identity | null, p: Record<string, any>) => unknown,
): (name: string) => MethodDef {
  return (name) => ({
    auth,
    fields: Object.keys(schema),
    required: Object.keys(schema).filter((k) => !schema[k].optional),
    run: async (m, who, params) => run(m, who, parseParams(name, params, schema)),
  })
}

const SHEET: Schema = {
  speedUnit: opt(whole()),
  speedPrice: opt(money()),
  memoryUnit: opt(whole()),
  memoryPrice: opt(money()),
  runningPeriod: opt(whole()),
  storageUnit: opt(whole()),
  storagePrice: opt(money()),
  /** Seconds; or storagePeriodDays (the report counts it in days), not both. */
  storagePeriod: opt(whole()),
  storagePeriodDays: opt(text({ max: 32 })),
}

const VM_SPEC: Schema = {
  name: opt(text({ max: 64 })),
  memory: opt(whole()),
  hd: opt(whole()),
  speed: opt(whole()),
  os: opt(text({ max: 32, nullable: true })),
  image: opt(text({ max: 64, nullable: true })),
  bidStorage: opt(money({ nullable: true })),
  bidRunning: opt(money({ nullable: true })),
}
const VMID = { vmId: text({ max: 64 }) }

const table: Record<string, (name: string) => MethodDef> = {
  signup: def(
    'none',
    {
      username: text({ max: 32 }),
      type: text({ oneOf: ['buyer', 'provider'] }),
      email: text(),
      password: text({ max: 1024 }),
    },
    (m, _w, p) => m.signup(p as any),
  ),
  login: def('none', { username: text({ max: 64 }), password: text({ max: 1024 }), ttlMs: opt(whole()) }, (m, _w, p) =>
    m.login(p as any),
  ),
  logout: def('user', {}, async (m, w) => {
    await m.logout(w)
    return { ok: true }
  }),
  whoami: def('user', {}, (m, w) => m.whoami(w)),
  configs: def('none', {}, (m) => ({ configs: m.configs() })),
  providers: def('none', { sort: opt(text({ oneOf: ['name', 'connectspeed'] })) }, (m, _w, p) =>
    m.providers({ sort: p.sort as 'name' | 'connectspeed' | undefined }),
  ),
  images: def('none', {}, (m) => ({ images: m.images() })),
  'media.attach': def(
    'buyer',
    { ...VMID, name: text({ max: 128 }), digest: text({ max: 64 }), size: whole(), source: text({ max: 64 }) },
    (m, w, p) => m.attachMedia(w, p as any),
  ),
  'media.detach': def('buyer', VMID, (m, w, p) => m.detachMedia(w, p.vmId)),
  'image.publish': def(
    'provider',
    {
      name: text({ max: 64 }),
      os: text({ max: 32 }),
      pmId: text({ max: 64 }),
      file: text({ max: 4096, absolute: true }),
    },
    (m, w, p) => m.publishImage(w, p as any),
  ),
  register: def(
    'buyer',
    { config: opt(text({ max: 64 })), net: opt(text({ max: 32 })), sshKey: opt(text({ max: 65536 })), ...VM_SPEC },
    (m, w, p) => m.register(w, p),
  ),
  'net.create': def('buyer', { name: text({ max: 32 }), subnet: opt(text({ max: 32 })) }, (m, w, p) =>
    m.netCreate(w, p as any),
  ),
  'net.list': def('buyer', {}, (m, w) => ({ networks: m.netList(w) })),
  'net.delete': def('buyer', { name: text({ max: 32 }) }, async (m, w, p) => {
    await m.netDelete(w, p.name)
    return { ok: true }
  }),
  edit: def('buyer', { ...VMID, ...VM_SPEC }, (m, w, { vmId, ...patch }) => m.edit(w, vmId, patch)),
  machines: def('user', {}, (m, w) => m.machines(w)),
  /** Live traffic counters: a buyer's of its machines, a provider's of the machines it hosts. */
  traffic: def('user', {}, (m, w) => ({ traffic: m.traffic.visible(w) })),
  search: def(
    'buyer',
    {
      vmId: opt(text({ max: 64 })),
      config: opt(text({ max: 64 })),
      sort: opt(text({ oneOf: SORT_KEYS })),
      limit: opt(whole()),
    },
    async (m, w, p) => ({ results: await m.search(w, p) }),
  ),
  store: def('buyer', { ...VMID, pmId: text({ max: 64 }) }, (m, w, p) => m.store(w, p.vmId, p.pmId)),
  start: def('buyer', VMID, (m, w, p) => m.start(w, p.vmId)),
  stop: def('buyer', VMID, (m, w, p) => m.stop(w, p.vmId)),
  suspend: def('buyer', VMID, (m, w, p) => m.suspend(w, p.vmId)),
  resume: def('buyer', VMID, (m, w, p) => m.resume(w, p.vmId)),
  delete: def('buyer', VMID, async (m, w, p) => {
    await m.delete(w, p.vmId)
    return { ok: true }
  }),
  migrate: def('buyer', { ...VMID, to: text({ max: 64 }), method: opt(text({ max: 32 })) }, (m, w, p) =>
    m.migrate(w, p as any),
  ),
  migrations: def('user', {}, (m, w) => ({ migrations: m.migrations(w) })),
  evict: def('provider', VMID, (m, w, p) => m.evictUnpaid(w, p.vmId)),
  destinations: def('buyer', VMID, async (m, w, p) => ({ destinations: await m.destinations(w, p.vmId) })),
  account: def('user', {}, (m, w) => m.account(w)),
  log: def('user', { after: opt(whole()), limit: opt(whole()) }, async (m, w, p) => ({ events: await m.log(w, p) })),
  'pm.add': def(
    'provider',
    {
      pairing: text({ max: 64 }),
      name: opt(text({ max: 64 })),
      like: opt(text({ max: 64 })),
      connectSpeed: opt(whole()),
      ...SHEET,
    },
    (m, w, p) => m.pmAdd(w, { ...(sheetOf(p) as any), connectSpeed: p.connectSpeed }),
  ),
  'pm.edit': def(
    'provider',
    { pmId: text({ max: 64 }), name: opt(text({ max: 64 })), ...SHEET },
    (m, w, { pmId, ...patch }) => m.pmEdit(w, pmId, sheetOf(patch)),
  ),
  'pm.delete': def(
    'provider',
    { pmId: text({ max: 64 }), drainMs: opt(whole()), drain: opt(text({ max: 16 })) },
    (m, w, p) => m.pmDelete(w, p.pmId, { drainMs: drainMsOf(p) }),
  ),
}

export const methods: Record<string, MethodDef> = Object.fromEntries(Object.entries(table).map(([k, f]) => [k, f(k)]))

const adminTable: Record<string, (name: string) => MethodDef> = {
  credit: def('none', { username: text({ max: 32 }), amount: money() }, (m, _w, p) => m.credit(p.username, p.amount)),
  'log-all': def('none', { after: opt(whole()), limit: opt(whole()) }, async (m, _w, p) => ({
    events: await m.logAll(p),
  })),
  audit: def('none', {}, (m) => m.audit()),
}

export const adminMethods: Record<string, MethodDef> = Object.fromEntries(
  Object.entries(adminTable).map(([k, f]) => [k, f(k)]),
)
