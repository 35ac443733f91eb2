// The authorization cases, generated from the hub's method tables (src/hub/methods.ts and the
// console and tunnel methods): every method, for every role, with every id another tenant owns in each of its
// id params. A method whose param the generator cannot fill fails the suite, so a new method is
// covered by adding nothing here, or fails until it is.
import { methods, adminMethods } from '../../src/hub/methods.ts'
import { consoleMethods } from '../../src/console/hub.ts'
import { tunnelMethods } from '../../src/vnet/tunnel-hub.ts'
import type { Auth } from '../../src/hub/methods.ts'
import { ROLES, type AuthzWorld, type Role, type Tenant } from './world.ts'

export type IdKind = 'vm' | 'pm' | 'net'
/** Params that name something a tenant owns, by name; 'target' names a provider machine anyone may use. */
const ID_PARAMS: Record<string, IdKind | 'target'> = { vmId: 'vm', pmId: 'pm', like: 'pm', to: 'target' }
/** Where a method gives a param name another meaning. */
const PARAM_OVERRIDES: Record<string, Record<string, IdKind | 'target'>> = {
  store: { pmId: 'target' },
  'net.delete': { name: 'net' },
}
/** Values for the other required params: valid, so a refusal is about who asks, not the input. */
const SAMPLES: Record<string, (n: number) => unknown> = {
  username: (n) => `someone${n}`,
  type: () => 'buyer',
  email: (n) => `someone${n}@example.org`,
  password: () => 'not the password 1',
  name: (n) => `name${n}`,
  digest: () => '0'.repeat(64),
  size: () => 1,
  source: () => 'hub',
  os: () => 'linux',
  file: () => '/nonexistent/image.img',
  pairing: () => 'AAAAA-BBBBB',
}
/** Methods of the admin socket and the node channel: never served to a market@1 client. */
export const NOT_ON_MARKET = [
  ...Object.keys(adminMethods),
  'image.add',
  'export',
  'node.hello',
  'node.ping',
  'node.event',
  'node.vm.exited',
  'node.progress',
  'node.vnet.join',
  'node.vnet.traffic',
]
/** Exercised by the account switch (it ends the session the other cases use). */
export const SESSION_ENDING = new Set(['logout'])

export interface MethodInfo {
  name: string
  auth: Auth
  fields: readonly string[]
  required: readonly string[]
}
export function allMethods(): MethodInfo[] {
  return [
    ...Object.entries(methods).map(([name, d]) => ({ name, auth: d.auth, fields: d.fields, required: d.required })),
    ...Object.entries({ ...consoleMethods, ...tunnelMethods }).map(([name, d]) => ({
      name,
      auth: d.auth,
      fields: d.fields,
      required: d.required,
    })),
  ]
}

export function admitted(auth: Auth, role: Role, w: AuthzWorld): boolean {
  if (auth === 'none') return true
  if (role === 'anonymous') return false
  return auth === 'user' || w.tenants[role].type === auth
}

const kindOf = (method: string, field: string) => PARAM_OVERRIDES[method]?.[field] ?? ID_PARAMS[field]

/** Ids of `kind` that `role` does not own; for a provider's own methods, nor hosts on its machines. */
export function foreignIds(w: AuthzWorld, role: Role, kind: IdKind, auth: Auth = 'buyer'): string[] {
  const owners = Object.values(w.tenants).filter((t) => t.role !== role)
  const pick = (t: Tenant) => (kind === 'vm' ? t.vms : kind === 'pm' ? t.pms : t.nets)
  const mine = role === 'anonymous' ? [] : w.tenants[role].pms
  const hosted = (id: string) => mine.includes(w.hub.market.ctx.store.get('vm', id)?.pmId ?? '')
  return owners.flatMap(pick).filter((id) => kind !== 'vm' || auth !== 'provider' || !hosted(id))
}

export interface Case {
  method: MethodInfo
  role: Role
  params: Record<string, unknown>
  /** The id params given another tenant's id, and the same call with ids that exist nowhere. */
  foreign: Record<string, string>
  nowhere: Record<string, unknown> | null
}

let counter = 0
export function generate(w: AuthzWorld): { cases: Case[]; unfillable: string[] } {
  const cases: Case[] = []
  const unfillable: string[] = []
  for (const m of allMethods()) {
    if (SESSION_ENDING.has(m.name)) continue
    const idFields = m.fields.filter((f) => {
      const k = kindOf(m.name, f)
      return k !== undefined && k !== 'target'
    })
    const base = (): Record<string, unknown> | null => {
      const p: Record<string, unknown> = {}
      for (const f of m.required) {
        const k = kindOf(m.name, f)
        if (k === 'target') p[f] = w.tenants.provider.pms[0]
        else if (k) continue
        else if (SAMPLES[f]) p[f] = SAMPLES[f](++counter)
        else return null
      }
      return p
    }
    if (!base()) {
      unfillable.push(`${m.name}: no sample for a required param`)
      continue
    }
    for (const role of ROLES) {
      if (!idFields.length) {
        cases.push({ method: m, role, params: base()!, foreign: {}, nowhere: null })
        continue
      }
      // Each id param alone with every foreign id (the others left out when optional, else foreign too).
      for (const f of idFields) {
        for (const id of foreignIds(w, role, kindOf(m.name, f) as IdKind, m.auth)) {
          const params = base()!
          const foreign: Record<string, string> = { [f]: id }
          for (const g of idFields)
            if (g !== f && m.required.includes(g))
              foreign[g] = foreignIds(w, role, kindOf(m.name, g) as IdKind, m.auth)[0]
          const nowhere = Object.fromEntries(Object.keys(foreign).map((k) => [k, `nowhere-${++counter}`]))
          cases.push({
            method: m,
            role,
            params: { ...params, ...foreign },
            foreign,
            nowhere: { ...params, ...nowhere },
          })
        }
      }
    }
  }
  return { cases, unfillable }
}

/** What `role` must never read: other tenants' ids, names, emails, session tokens and bids. */
export function secretsFor(w: AuthzWorld, role: Role, bids: Record<string, number[]>): string[] {
  const out: string[] = []
  const me = role === 'anonymous' ? null : w.tenants[role]
  const hosted = new Set<string>()
  if (me?.type === 'provider')
    for (const vm of w.hub.market.ctx.store.values('vm')) if (vm.pmId && me.pms.includes(vm.pmId)) hosted.add(vm.id)
  for (const t of Object.values(w.tenants)) {
    if (t === me) continue
    out.push(t.email, t.token, ...t.nets, ...t.vms.filter((id) => !hosted.has(id)))
    for (const b of bids[t.username] ?? []) out.push(String(b))
  }
  return out
}
