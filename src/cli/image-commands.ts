// The image catalog from the CLI: `images`, `image publish` (providers), and `store`, which follows
// the machine's row on the replica feed while its image is delivered: a progress line on a terminal,
// one line per update otherwise, one {"progress": …} line per update with --json, then the machine.
import type { Argv } from 'yargs'
import { resolve } from 'node:path'
import { withClient } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print, table } from './output.ts'
import { bytes } from './migrate-commands.ts'
import * as render from './render.ts'
import type { ImageListing } from '../market/images.ts'
import type { VmRow } from '../market/types.ts'

type Args = GlobalArgs & Record<string, any>

/** The store call waits as long as the delivery moves bytes (the provider's stall watch ends a dead one). */
export const STORE_TIMEOUT_MS = 6 * 3600_000

export function imagesTable(r: any): string {
  const rows: ImageListing[] = r.images ?? r
  if (!rows.length) return 'no images yet: the operator adds one with `virtuoso admin image add NAME FILE --os OS`'
  return table(rows, [
    { header: 'NAME', get: (i) => i.name },
    { header: 'OS', get: (i) => i.os },
    { header: 'SIZE', get: (i) => bytes(i.size), align: 'right' },
    { header: 'DIGEST', get: (i) => i.digest.slice(0, 16) },
    { header: 'PUBLISHER', get: (i) => i.publisher },
    { header: 'SERVED BY', get: (i) => i.servedBy.join(', ') },
  ])
}

/** One delivery progress line, pure (tests call it). */
export function deliveryLine(v: VmRow): string {
  const d = v.delivery
  if (!d) return `${v.name}: ${v.state}`
  const pct = d.bytesTotal > 0 ? Math.min(100, Math.floor((d.bytesDone / d.bytesTotal) * 100)) : 0
  return `delivering ${d.image} to ${d.pmId}: ${String(pct).padStart(3)}%  ${bytes(d.bytesDone)}/${bytes(d.bytesTotal)}`
}

async function store(a: Args): Promise<void> {
  const json = !!a.json
  const tty = !json && process.stdout.isTTY
  const result = await withClient(
    a,
    async (c) => {
      let last = ''
      await c.subscribe('now', (_kind, rows) => {
        for (const r of rows) {
          const v = r.value as VmRow | null
          if (r.table !== 'vm' || r.key !== a.vmid || !v?.delivery) continue
          const line = deliveryLine(v)
          if (line === last) continue
          last = line
          if (json) process.stdout.write(JSON.stringify({ progress: { vmId: v.id, ...v.delivery } }) + '\n')
          else process.stdout.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
        }
      })
      return c.call<VmRow>('store', { vmId: a.vmid, pmId: a.on }, { timeoutMs: STORE_TIMEOUT_MS })
    },
    { auth: true },
  )
  if (tty) process.stdout.write('\n')
  print(json, result, () => render.vm(result))
}

export function imageCommands(y: Argv): Argv {
  return y
    .command(
      'images',
      'list the image catalog: name, OS, size, digest, who serves it',
      (b) => b,
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const r = await withClient(a, (c) => c.call('images', {}))
          print(!!a.json, r, () => imagesTable(r))
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'image publish <name> <file>',
      'providers: publish a raw disk image that sits on one of your nodes',
      (b) =>
        b
          .option('os', { type: 'string', demandOption: true, describe: 'the OS it installs, e.g. debian-12' })
          .option('on', { type: 'string', demandOption: true, describe: 'the physical machine whose node has FILE' }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const params = { name: String(a.name), os: a.os, pmId: a.on, file: resolve(String(a.file)) }
          const r = await withClient(a, (c) => c.call('image.publish', params, { timeoutMs: STORE_TIMEOUT_MS }), {
            auth: true,
          })
          print(!!a.json, r, () => `published ${r.name} (${r.os}, ${bytes(r.size)}, digest ${r.digest})`)
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'store <vmid>',
      'store a registered machine on a provider machine (its image is delivered there first)',
      (b) => b.option('on', { type: 'string', demandOption: true, describe: 'physical machine id (from `search`)' }),
      async (argv) => {
        try {
          await store(argv as unknown as Args)
        } catch (err) {
          fail(err, !!(argv as any).json)
        }
      },
    )
}
