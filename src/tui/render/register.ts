// Register / edit forms of a buyer's machine (editconfiguration.pl, registerconfiguration.pl): the
// fields, filled from a standard configuration, and the market@1 params they submit.
import type { ConfigRow, ImageRow, VmRow } from '../../market/types.ts'
import type { Field } from './form.ts'
import { money } from './format.ts'

export const CUSTOM = 'custom'
/** The image choice that installs none (the configuration's OS alone). */
export const NO_IMAGE = 'none'
const MONEY = /^\d{1,12}(\.\d{1,6})?$/

export function configValues(c: ConfigRow | undefined): Record<string, string> {
  if (!c) return { memory: '', hd: '', speed: '', os: 'linux', bidStorage: '', bidRunning: '' }
  return {
    memory: String(c.memory),
    hd: String(c.hd),
    speed: String(c.speed),
    os: c.os ?? 'none',
    bidStorage: c.askedStoragePrice ? money(c.askedStoragePrice) : '',
    bidRunning: c.askedRunningPrice ? money(c.askedRunningPrice) : '',
  }
}

/** `image`: the catalog image to start with (else the configuration's own, else none). */
export function registerFields(
  configs: ConfigRow[],
  chosen?: string,
  images: ImageRow[] = [],
  image?: string,
): Field[] {
  const c = configs.find((x) => x.name === chosen) ?? configs[0]
  const v = configValues(c)
  return [
    {
      name: 'config',
      label: 'configuration',
      kind: 'choice',
      options: [...configs.map((x) => x.name), CUSTOM],
      value: c?.name ?? CUSTOM,
    },
    { name: 'name', label: 'name', value: '', hint: 'optional' },
    { name: 'memory', label: 'memory (MB)', value: v.memory },
    { name: 'hd', label: 'disk (MB)', value: v.hd },
    { name: 'speed', label: 'speed (bogomips)', value: v.speed },
    { name: 'os', label: 'os', kind: 'choice', options: ['linux', 'none'], value: v.os === 'none' ? 'none' : 'linux' },
    ...(images.length
      ? [
          {
            name: 'image',
            label: 'image',
            kind: 'choice' as const,
            options: [NO_IMAGE, ...images.map((i) => i.name)],
            value: [image, c?.image].find((n) => n && images.some((i) => i.name === n)) ?? NO_IMAGE,
            hint: 'its OS replaces os',
          },
        ]
      : []),
    { name: 'bidStorage', label: 'bid storage/day', value: v.bidStorage, hint: 'empty = any' },
    { name: 'bidRunning', label: 'bid running/hour', value: v.bidRunning, hint: 'empty = any' },
  ]
}

/** When the configuration choice changes, its sizes and market averages fill the form. */
export function onConfigChange(configs: ConfigRow[], prev: string | undefined) {
  return (values: Record<string, string>): Record<string, string> => {
    if (values.config === prev || values.config === CUSTOM) return values
    prev = values.config
    return { ...values, ...configValues(configs.find((c) => c.name === values.config)) }
  }
}

function wholeNumber(v: string, what: string): number {
  const n = Number(v.trim())
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n <= 0)
    throw new Error(`${what}: "${v}" is not a positive whole number`)
  return n
}

function bid(v: string, what: string): string | undefined {
  const t = v.trim()
  if (!t) return undefined
  if (!MONEY.test(t)) throw new Error(`${what}: "${t}" is not an amount (digits, at most 6 decimals)`)
  return t
}

const strip = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== ''))

/** Params of `register`: by configuration name when its sizes are unchanged, else explicit sizes. */
export function registerParams(values: Record<string, string>, configs: ConfigRow[]): Record<string, unknown> {
  const c = configs.find((x) => x.name === values.config)
  const sizes = {
    memory: wholeNumber(values.memory, 'memory'),
    hd: wholeNumber(values.hd, 'disk'),
    speed: wholeNumber(values.speed, 'speed'),
  }
  const os = values.os === 'none' ? null : values.os
  // A catalog image brings its own OS: the os choice is not sent with it.
  if (values.image && values.image !== NO_IMAGE) {
    const image = values.image
    const bids = strip({
      bidStorage: bid(values.bidStorage, 'storage bid'),
      bidRunning: bid(values.bidRunning, 'running bid'),
      name: values.name.trim() || undefined,
    })
    if (c && c.memory === sizes.memory && c.hd === sizes.hd && c.speed === sizes.speed)
      return { config: c.name, image, ...bids }
    return { ...sizes, image, ...bids }
  }
  const bids = {
    bidStorage: bid(values.bidStorage, 'storage bid'),
    bidRunning: bid(values.bidRunning, 'running bid'),
    name: values.name.trim() || undefined,
  }
  if (c && c.memory === sizes.memory && c.hd === sizes.hd && c.speed === sizes.speed && (c.os ?? null) === os)
    return strip({ config: c.name, ...bids })
  return { ...strip({ ...sizes, ...bids }), os }
}

export function editFields(v: VmRow): Field[] {
  return [
    { name: 'name', label: 'name', value: v.name },
    { name: 'memory', label: 'memory (MB)', value: String(v.memory) },
    { name: 'hd', label: 'disk (MB)', value: String(v.hd) },
    { name: 'speed', label: 'speed (bogomips)', value: String(v.speed) },
    { name: 'os', label: 'os', kind: 'choice', options: ['linux', 'none'], value: v.os ? 'linux' : 'none' },
    {
      name: 'bidStorage',
      label: 'bid storage/day',
      value: v.bidStorage === null ? '' : money(v.bidStorage),
      hint: 'empty = any',
    },
    {
      name: 'bidRunning',
      label: 'bid running/hour',
      value: v.bidRunning === null ? '' : money(v.bidRunning),
      hint: 'empty = any',
    },
  ]
}

export function editParams(vmId: string, values: Record<string, string>): Record<string, unknown> {
  return {
    vmId,
    ...strip({
      name: values.name.trim(),
      bidStorage: bid(values.bidStorage, 'storage bid'),
      bidRunning: bid(values.bidRunning, 'running bid'),
    }),
    memory: wholeNumber(values.memory, 'memory'),
    hd: wholeNumber(values.hd, 'disk'),
    speed: wholeNumber(values.speed, 'speed'),
    os: values.os === 'none' ? null : values.os,
  }
}
