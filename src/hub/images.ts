// The hub's side of the image catalog: `admin image add` imports a file on the hub's machine into
// the node's image store and publishes it; test fault injection for how the hub serves blocks.
import { isAbsolute } from 'node:path'
import type { Market } from '../market/market.ts'
import type { ImageRow } from '../market/types.ts'
import { checkImage } from '../market/images.ts'
import { hubError } from './errors.ts'
import type { ImageStore } from '../vmmp/image-store.ts'

/** Constructor options only (never the environment): a source that corrupts blocks or lies in its manifest. */
export interface ImageServeFaults {
  mutateBlock?: (file: string, index: number, data: Buffer) => void
  mutateHashes?: (file: string, data: Buffer) => void
}

export async function addImageFile(market: Market, store: ImageStore | null, params: unknown): Promise<ImageRow> {
  const p = (params ?? {}) as Record<string, unknown>
  if (!store) throw hubError.badInput('image', 'this hub keeps no image store')
  if (typeof p.file !== 'string' || !isAbsolute(p.file))
    throw hubError.badInput('file', 'give the absolute path of the image file on the hub machine')
  const name = String(p.name ?? '')
  const os = String(p.os ?? '')
  checkImage({ name, os, size: 1, digest: '0'.repeat(64) }) // refuse a bad name before hashing gigabytes
  const { digest, size } = await store.import(p.file)
  return market.addHubImage({ name, os, size, digest })
}
