// Standard configurations (report §6.1.6 tables config and preconfig, one table here with a
// `preconfigured` flag). Seeded once from fixtures/configs.json; prices.ts keeps their averages.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../root.ts'
import type { Ctx } from './context.ts'
import type { Op } from './store.ts'
import type { ConfigRow } from './types.ts'
import { errors } from './errors.ts'

/** The standard configurations shipped with the package; resolved when asked, not at load. */
export function configsFixture(): string {
  return join(packageRoot(), 'fixtures/configs.json')
}
/** Disks are VMDK of more than 2 GB (report §6.2.5), so a machine needs at least this much. */
export const MIN_HD_MB = 2048

type ConfigSeed = Pick<ConfigRow, 'name' | 'preconfigured' | 'processor' | 'os' | 'memory' | 'hd' | 'speed'>

export async function seedCatalog(ctx: Ctx, file: URL | string = configsFixture()): Promise<void> {
  if (ctx.store.get('meta', 'catalogSeeded')) return
  const seeds = JSON.parse(await readFile(file, 'utf8')) as ConfigSeed[]
  const ops: Op[] = seeds.map((c) => ({
    type: 'put',
    table: 'config',
    key: c.name,
    value: { ...c, askedStoragePrice: 0, askedRunningPrice: 0, pricedAt: null } satisfies ConfigRow,
  }))
  ops.push({ type: 'put', table: 'meta', key: 'catalogSeeded', value: ctx.clock() })
  await ctx.store.write(ops)
}

export function configs(ctx: Ctx): ConfigRow[] {
  return [...ctx.store.values('config')].sort(
    (a, b) => Number(a.preconfigured) - Number(b.preconfigured) || a.memory - b.memory || a.name.localeCompare(b.name),
  )
}

export function findConfig(ctx: Ctx, name: string): ConfigRow {
  const c = typeof name === 'string' ? ctx.store.get('config', name) : undefined
  if (!c) throw errors.notFound('configuration', String(name))
  return c
}
