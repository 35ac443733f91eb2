// The RPC methods the hub serves (market@1 to network clients; adminMethods only on the local admin
// socket). Params are checked strictly here: a wrong type or an unknown field is MARKET_BAD_INPUT
// before any rule runs. Money travels as decimal strings ("0.0005"), parsed exactly; results carry
// integer micro-units. Authorization is checked again inside the Market.
import { isAbsolute } from 'node:path'
import type { Market } from './market.ts'
import type { Identity } from './types.ts'
import { errors } from './errors.ts'
import { parseMoney } from './pricing.ts'
import { SORT_KEYS } from './search.ts'
import { DAY_S } from './pricing.ts'

export type Auth = 'none' | 'user' | 'buyer' | 'provider'
export interface MethodDef {
  auth: Auth
  /** The params it takes, and those it requires (the authorization suite fills them with other
   *  tenants' ids, so a new method is covered without being named there). */
  fields: readonly string[]
  required: readonly string[]
  run(market: Market, who: Identity | null, params: unknown): Promise<unknown>
}

type Kind = 'string' | 'int' | 'money' | 'bool'
interface FieldSpec {
  kind: Kind
  optional?: boolean
  nullable?: boolean
  max?: number
  oneOf?: readonly string[]
}
type Schema = Record<string, FieldSpec>

const str = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'string', max: 256, ...o })
const int = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'int', ...o })
const money = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'money', ...o })
const opt = (f: FieldSpec): FieldSpec => ({ ...f, optional: true })

/** Validates `params` against `schema`; returns the values with money parsed to micro-units. */
export function parseParams(method: string, params: unknown, schema: Schema): Record<string, any> {
  const p = params === undefined || params === null ? {} : params
  if (typeof p !== 'object' || Array.isArray(p)) throw errors.badInput(method, 'params must be an object')
  const out: Record<string, any> = {}
  for (const k of Object.keys(p))
    if (!Object.prototype.hasOwnProperty.call(schema, k))
      throw errors.badInput(method, `unknown field "${k.slice(0, 40)}"`)
  for (const [k, spec] of Object.entries(schema)) {
    const v = (p as Record<string, unknown>)[k]
    if (v === undefined) {
      if (!spec.optional) throw errors.badInput(method, `"${k}" is required`)
      continue
    }
    if (v === null) {
      if (!spec.nullable) throw errors.badInput(method, `"${k}" may not be null`)
      out[k] = null
      continue
    }
    switch (spec.kind) {
      case 'string':
        if (typeof v !== 'string' || v.length > (spec.max ?? 256))
          throw errors.badInput(method, `"${k}" must be a string of at most ${spec.max ?? 256} characters`)
        if (spec.oneOf && !spec.oneOf.includes(v))
          throw errors.badInput(method, `"${k}" must be one of ${spec.oneOf.join(', ')}`)
        out[k] = v
        break
      case 'int':
        if (!Number.isSafeInteger(v) || (v as number) < 0)
          throw errors.badInput(method, `"${k}" must be a whole number`)
        out[k] = v
        break
      case 'money':
        out[k] = parseMoney(v as string, k)
        break
      case 'bool':
        if (typeof v !== 'boolean') throw errors.badInput(method, `"${k}" must be true or false`)
        out[k] = v
        break
    }
  }
  return out
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
  speedUnit: opt(int()),
  speedPrice: opt(money()),
  memoryUnit: opt(int()),
  memoryPrice: opt(money()),
  runningPeriod: opt(int()),
  storageUnit: opt(int()),
  storagePrice: opt(money()),
  /** Seconds; or storagePeriodDays (the report counts it in days), not both. */
  storagePeriod: opt(int()),
  storagePeriodDays: opt(str({ max: 32 })),
}

function sheetOf(p: Record<string, any>): Record<string, any> {
  const { storagePeriodDays, ...rest } = p
  if (storagePeriodDays !== undefined) {
    if (rest.storagePeriod !== undefined)
      throw errors.badInput('storagePeriod', 'give it in seconds or in days, not both')
    rest.storagePeriod = parseDays(storagePeriodDays)
  }
  return rest
}

/** Days as a decimal string ("1", "0.5") to whole seconds; fractions let tests and demos use short periods. */
function parseDays(text: string): number {
  if (!/^\d{1,5}(\.\d{1,6})?$/.test(text))
    throw errors.badInput('storagePeriodDays', `"${text}" is not a number of days`)
  const s = Math.round(Number(text) * DAY_S)
  if (s < 1) throw errors.badInput('storagePeriodDays', 'the storage period must be at least one second')
  return s
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
/** "90s", "15m", "2h", "3d" to ms. */
export function parseDuration(text: string, field = 'duration'): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim())
  if (!m) throw errors.badInput(field, `"${text}" is not a duration like 90s, 15m, 2h or 3d`)
  return Number(m[1]) * DURATION_UNITS[m[2]]
}

const VM_SPEC: Schema = {
  name: opt(str({ max: 64 })),
  memory: opt(int()),
  hd: opt(int()),
  speed: opt(int()),
  os: opt(str({ max: 32, nullable: true })),
  image: opt(str({ max: 64, nullable: true })),
  bidStorage: opt(money({ nullable: true })),
  bidRunning: opt(money({ nullable: true })),
}
const VMID = { vmId: str({ max: 64 }) }

const table: Record<string, (name: string) => MethodDef> = {
  signup: def(
    'none',
    {
      username: str({ max: 32 }),
      type: str({ oneOf: ['buyer', 'provider'] }),
      email: str(),
      password: str({ max: 1024 }),
    },
    (m, _w, p) => m.signup(p as any),
  ),
  login: def('none', { username: str({ max: 64 }), password: str({ max: 1024 }), ttlMs: opt(int()) }, (m, _w, p) =>
    m.login(p as any),
  ),
  logout: def('user', {}, async (m, w) => {
    await m.logout(w)
    return { ok: true }
  }),
  whoami: def('user', {}, (m, w) => m.whoami(w)),
  configs: def('none', {}, (m) => ({ configs: m.configs() })),
  providers: def('none', { sort: opt(str({ oneOf: ['name', 'connectspeed'] })) }, (m, _w, p) =>
    m.providers({ sort: p.sort as 'name' | 'connectspeed' | undefined }),
  ),
  images: def('none', {}, (m) => ({ images: m.images() })),
  'media.attach': def(
    'buyer',
    { ...VMID, name: str({ max: 128 }), digest: str({ max: 64 }), size: int(), source: str({ max: 64 }) },
    (m, w, p) => m.attachMedia(w, p as any),
  ),
  'media.detach': def('buyer', VMID, (m, w, p) => m.detachMedia(w, p.vmId)),
  'image.publish': def(
    'provider',
    { name: str({ max: 64 }), os: str({ max: 32 }), pmId: str({ max: 64 }), file: str({ max: 4096 }) },
    (m, w, p) => {
      if (!isAbsolute(p.file)) throw errors.badInput('file', 'give the absolute path of the file on your node')
      return m.publishImage(w, p as any)
    },
  ),
  register: def(
    'buyer',
    { config: opt(str({ max: 64 })), net: opt(str({ max: 32 })), sshKey: opt(str({ max: 65536 })), ...VM_SPEC },
    (m, w, p) => m.register(w, p),
  ),
  'net.create': def('buyer', { name: str({ max: 32 }), subnet: opt(str({ max: 32 })) }, (m, w, p) =>
    m.netCreate(w, p as any),
  ),
  'net.list': def('buyer', {}, (m, w) => ({ networks: m.netList(w) })),
  'net.delete': def('buyer', { name: str({ max: 32 }) }, async (m, w, p) => {
    await m.netDelete(w, p.name)
    return { ok: true }
  }),
  edit: def('buyer', { ...VMID, ...VM_SPEC }, (m, w, { vmId, ...patch }) => m.edit(w, vmId, patch)),
  machines: def('user', {}, (m, w) => m.machines(w)),
  search: def(
    'buyer',
    {
      vmId: opt(str({ max: 64 })),
      config: opt(str({ max: 64 })),
      sort: opt(str({ oneOf: SORT_KEYS })),
      limit: opt(int()),
    },
    async (m, w, p) => ({ results: await m.search(w, p) }),
  ),
  store: def('buyer', { ...VMID, pmId: str({ max: 64 }) }, (m, w, p) => m.store(w, p.vmId, p.pmId)),
  start: def('buyer', VMID, (m, w, p) => m.start(w, p.vmId)),
  stop: def('buyer', VMID, (m, w, p) => m.stop(w, p.vmId)),
  suspend: def('buyer', VMID, (m, w, p) => m.suspend(w, p.vmId)),
  resume: def('buyer', VMID, (m, w, p) => m.resume(w, p.vmId)),
  delete: def('buyer', VMID, async (m, w, p) => {
    await m.delete(w, p.vmId)
    return { ok: true }
  }),
  migrate: def('buyer', { ...VMID, to: str({ max: 64 }), method: opt(str({ max: 32 })) }, (m, w, p) =>
    m.migrate(w, p as any),
  ),
  migrations: def('user', {}, (m, w) => ({ migrations: m.migrations(w) })),
  evict: def('provider', VMID, (m, w, p) => m.evictUnpaid(w, p.vmId)),
  destinations: def('buyer', VMID, async (m, w, p) => ({ destinations: await m.destinations(w, p.vmId) })),
  account: def('user', {}, (m, w) => m.account(w)),
  log: def('user', { after: opt(int()), limit: opt(int()) }, async (m, w, p) => ({ events: await m.log(w, p) })),
  'pm.add': def(
    'provider',
    {
      pairing: str({ max: 64 }),
      name: opt(str({ max: 64 })),
      like: opt(str({ max: 64 })),
      connectSpeed: opt(int()),
      ...SHEET,
    },
    (m, w, p) => m.pmAdd(w, { ...(sheetOf(p) as any), connectSpeed: p.connectSpeed }),
  ),
  'pm.edit': def(
    'provider',
    { pmId: str({ max: 64 }), name: opt(str({ max: 64 })), ...SHEET },
    (m, w, { pmId, ...patch }) => m.pmEdit(w, pmId, sheetOf(patch)),
  ),
  'pm.delete': def(
    'provider',
    { pmId: str({ max: 64 }), drainMs: opt(int()), drain: opt(str({ max: 16 })) },
    (m, w, p) => {
      if (p.drain !== undefined && p.drainMs !== undefined)
        throw errors.badInput('pm.delete', 'give drain or drainMs, not both')
      return m.pmDelete(w, p.pmId, { drainMs: p.drain !== undefined ? parseDuration(p.drain, 'drain') : p.drainMs })
    },
  ),
}

export const methods: Record<string, MethodDef> = Object.fromEntries(Object.entries(table).map(([k, f]) => [k, f(k)]))

const adminTable: Record<string, (name: string) => MethodDef> = {
  credit: def('none', { username: str({ max: 32 }), amount: money() }, (m, _w, p) => m.credit(p.username, p.amount)),
  'log-all': def('none', { after: opt(int()), limit: opt(int()) }, async (m, _w, p) => ({ events: await m.logAll(p) })),
  audit: def('none', {}, (m) => m.audit()),
}

export const adminMethods: Record<string, MethodDef> = Object.fromEntries(
  Object.entries(adminTable).map(([k, f]) => [k, f(k)]),
)
