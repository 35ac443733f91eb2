// The image catalog (report §6.3.1 preconfigurations): raw disk images named in the market, each
// content-addressed by the digest of its 64 KiB block manifest. The hub's operator publishes with
// `admin image add` (the hub holds the bytes), a provider with `image publish` (its node holds them).
// `servers` lists who holds an image; a provider that received one at store joins the list, so the
// next store elsewhere can fetch from several sources at once.
import type { Ctx } from './context.ts'
import { requireProvider, ownPm } from './context.ts'
import { errors } from './errors.ts'
import { eventOp } from './events.ts'
import type { Op } from './store.ts'
import type { Identity, ImageRow, VmRow } from './types.ts'

/** OSes a provider boots without a catalog image (the qemu driver's built-in 'linux' guest). */
export const BUILTIN_OS: readonly string[] = ['linux']
export const HUB_SERVER = 'hub'
const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const OS = /^[a-z0-9][a-z0-9._-]{0,31}$/
const DIGEST = /^[0-9a-f]{64}$/

export interface ImageInput {
  name: string
  os: string
  size: number
  digest: string
}

export function checkImage(input: ImageInput): ImageInput {
  if (typeof input.name !== 'string' || !IMAGE_NAME.test(input.name))
    throw errors.badInput('name', 'an image name is 1 to 64 lowercase letters, digits, dots, _ or -')
  if (typeof input.os !== 'string' || !OS.test(input.os))
    throw errors.badInput('os', 'use a short lowercase name such as debian-12')
  if (!Number.isSafeInteger(input.size) || input.size <= 0) throw errors.badInput('size', 'must be a positive size')
  if (typeof input.digest !== 'string' || !DIGEST.test(input.digest))
    throw errors.badInput('digest', 'must be 64 hex digits')
  return input
}

/** Ops that publish an image (or add a server to it); refuses a name already bound to other bytes. */
function publishOps(ctx: Ctx, input: ImageInput, publisher: string, server: string): { ops: Op[]; row: ImageRow } {
  const img = checkImage(input)
  const old = ctx.store.get('images', img.name)
  if (old && old.digest !== img.digest)
    throw errors.badInput(
      'name',
      `image ${img.name} already names other bytes (digest ${old.digest.slice(0, 12)}…); publish under a new name`,
    )
  const row: ImageRow = old
    ? { ...old, servers: old.servers.includes(server) ? old.servers : [...old.servers, server] }
    : { ...img, publisher, servers: [server], published: ctx.clock() }
  const now = ctx.clock()
  const ops: Op[] = [
    { type: 'put', table: 'images', key: row.name, value: row },
    eventOp(now, {
      origin: publisher === HUB_SERVER ? 'hub' : `user:${publisher}`,
      type: 'image.publish',
      message: `published image ${row.name} (${row.os}, ${row.size} bytes, digest ${row.digest.slice(0, 12)}…)`,
      users: publisher === HUB_SERVER ? [] : [publisher],
    }),
  ]
  return { ops, row }
}

/** The operator publishes an image the hub holds (admin socket; the hub imported the file). */
export async function addHubImage(ctx: Ctx, input: ImageInput): Promise<ImageRow> {
  const { ops, row } = publishOps(ctx, input, HUB_SERVER, HUB_SERVER)
  await ctx.store.write(ops)
  return row
}

/** A provider publishes a file that sits on one of its nodes: the node imports and hashes it. */
export async function publishImage(
  ctx: Ctx,
  who: Identity | null,
  input: { name: string; os: string; pmId: string; file: string },
): Promise<ImageRow> {
  const me = requireProvider(who, 'publish images')
  const pm = ownPm(ctx, me, input.pmId)
  checkImage({ name: input.name, os: input.os, size: 1, digest: '0'.repeat(64) })
  if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  let res: { digest: string; size: number }
  try {
    res = await ctx.gateway.command(pm.nodeKey, 'image.import', { file: input.file })
  } catch (err) {
    throw errors.providerFailed('import the image file on', pm.name, err)
  }
  const { ops, row } = publishOps(
    ctx,
    { name: input.name, os: input.os, size: res.size, digest: res.digest },
    me.username,
    pm.nodeKey,
  )
  await ctx.store.write(ops)
  return row
}

/** A provider node now holds an image (it received it at a store): later stores may fetch from it. */
export function serverOps(ctx: Ctx, name: string, nodeKey: string): Op[] {
  const img = ctx.store.get('images', name)
  if (!img || img.servers.includes(nodeKey)) return []
  return [{ type: 'put', table: 'images', key: name, value: { ...img, servers: [...img.servers, nodeKey] } }]
}

/** node.images.dropped: a provider node evicted these images from its cache; it serves them no more. */
export async function imagesDropped(ctx: Ctx, nodeKey: string, p: { digests?: unknown }): Promise<{ ok: boolean }> {
  const digests = new Set(Array.isArray(p.digests) ? p.digests.filter((d) => typeof d === 'string') : [])
  const ops: Op[] = []
  for (const img of ctx.store.values('images'))
    if (digests.has(img.digest) && img.servers.includes(nodeKey))
      ops.push({
        type: 'put',
        table: 'images',
        key: img.name,
        value: { ...img, servers: img.servers.filter((s) => s !== nodeKey) },
      })
  if (ops.length) await ctx.store.write(ops)
  return { ok: true }
}

export interface ImageListing extends ImageRow {
  /** Who serves it, by name: 'hub' and the provider machines holding it (online or not). */
  servedBy: string[]
}

export function listImages(ctx: Ctx): ImageListing[] {
  const pmName = new Map<string, string>()
  for (const pm of ctx.store.values('pm')) pmName.set(pm.nodeKey, pm.name)
  return [...ctx.store.values('images')]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((img) => ({
      ...img,
      servedBy: img.servers.map((s) => (s === HUB_SERVER ? 'hub' : (pmName.get(s) ?? `node ${s.slice(0, 8)}`))),
    }))
}

/** Bytes of a disk of `mb` MB in the report's 255/63 geometry (whole cylinders; see src/hv/disk.ts). */
export function diskBytes(mb: number): number {
  const cyl = 255 * 63
  return Math.floor((mb * 2048) / cyl) * cyl * 512
}

/**
 * What a machine's OS and image are, checked at register and edit (never first at store): an image
 * named must exist and fit the disk; an OS must be built in or the OS of some catalog image (then the
 * newest such image is used). null = a blank disk.
 */
export function resolveOs(
  ctx: Ctx,
  input: { os?: string | null; image?: string | null },
  hd: number,
): Pick<VmRow, 'os' | 'image' | 'imageDigest'> {
  let img: ImageRow | undefined
  if (input.image !== undefined && input.image !== null) {
    img = typeof input.image === 'string' ? ctx.store.get('images', input.image) : undefined
    if (!img) throw errors.notFound('image', `${String(input.image)} (see \`virtuoso images\`)`)
    if (input.os !== undefined && input.os !== img.os)
      throw errors.badInput('os', `image ${img.name} installs ${img.os}, not ${String(input.os)}`)
  } else {
    const os = input.os ?? null
    if (os === null || BUILTIN_OS.includes(os)) return { os, image: null, imageDigest: null }
    img = [...ctx.store.values('images')].filter((i) => i.os === os).sort((a, b) => b.published - a.published)[0]
    if (!img) {
      const known = [...new Set([...BUILTIN_OS, ...[...ctx.store.values('images')].map((i) => i.os)])]
      throw errors.badInput('os', `unknown OS '${os}'; known: ${known.join(', ')}, or none for a blank disk`)
    }
  }
  if (diskBytes(hd) < img.size)
    throw errors.badInput(
      'hd',
      `image ${img.name} needs a disk of at least ${Math.ceil(img.size / 1048576) + 8} MB; ask for a larger one`,
    )
  return { os: img.os, image: img.name, imageDigest: img.digest }
}
