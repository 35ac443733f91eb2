// A request's params in the market's terms: a schema of fields (text, whole numbers, money as exact
// decimal strings, booleans) checked strictly, so a wrong type or an unknown field is
// MARKET_BAD_INPUT before any rule runs. The hub's method table (src/hub/methods.ts) is written in it.
import { isAbsolute } from 'node:path'
import { errors } from './errors.ts'
import { DAY_S, parseMoney } from './pricing.ts'

type Kind = 'text' | 'whole' | 'money' | 'bool'
interface FieldSpec {
  kind: Kind
  optional?: boolean
  nullable?: boolean
  max?: number
  oneOf?: readonly string[]
  /** Text only: an absolute file path (the hub resolves nothing against its own directory). */
  absolute?: boolean
}
export type Schema = Record<string, FieldSpec>

/** A string of at most `max` (default 256) characters. */
export const text = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'text', max: 256, ...o })
/** A whole number, 0 or more. */
export const whole = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'whole', ...o })
/** An amount as a decimal string ("0.0005"), parsed exactly to integer micro-units. */
export const money = (o: Partial<FieldSpec> = {}): FieldSpec => ({ kind: 'money', ...o })
export const opt = (f: FieldSpec): FieldSpec => ({ ...f, optional: true })

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
      case 'text':
        if (typeof v !== 'string' || v.length > (spec.max ?? 256))
          throw errors.badInput(method, `"${k}" must be a string of at most ${spec.max ?? 256} characters`)
        if (spec.oneOf && !spec.oneOf.includes(v))
          throw errors.badInput(method, `"${k}" must be one of ${spec.oneOf.join(', ')}`)
        if (spec.absolute && !isAbsolute(v)) throw errors.badInput(k, 'give the absolute path of the file on your node')
        out[k] = v
        break
      case 'whole':
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

/** A price sheet's params: storagePeriodDays (the report counts it in days) becomes storagePeriod. */
export function sheetOf(p: Record<string, any>): Record<string, any> {
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

/** pm.delete's drain: a duration ("2h") or drainMs, not both. */
export function drainMsOf(p: { drain?: string; drainMs?: number }): number | undefined {
  if (p.drain !== undefined && p.drainMs !== undefined)
    throw errors.badInput('pm.delete', 'give drain or drainMs, not both')
  return p.drain !== undefined ? parseDuration(p.drain, 'drain') : p.drainMs
}
