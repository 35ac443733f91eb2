// Images view rows: the market's image catalog (the report's preconfigurations, §6.3.1), each with
// who serves it (the hub, and provider machines whose node caches or published it) and how many of
// my machines start from it; the selected one's detail lines under the table.
import type { ImageRow, PmRow, VmRow } from '../../market/types.ts'
import type { Column } from './table.ts'
import { bytes, clock, shortId } from './format.ts'

export const IMAGE_COLUMNS: Column[] = [
  { header: 'NAME', grow: true, min: 8 },
  { header: 'OS', min: 5 },
  { header: 'SIZE', align: 'right' },
  { header: 'DIGEST', min: 12 },
  { header: 'PUBLISHER', min: 9 },
  { header: 'SOURCES', align: 'right' },
  { header: 'MINE', align: 'right' },
]

/** Who holds the image, by name: 'hub', the provider machines on a node that serves it, else the key. */
export function imageSources(img: ImageRow, pms: readonly PmRow[]): string[] {
  return img.servers.map((s) => {
    if (s === 'hub') return 'hub'
    const names = pms.filter((p) => p.nodeKey === s).map((p) => p.name)
    return names.length ? names.join('+') : `node ${shortId(s)}`
  })
}

export function imageRow(img: ImageRow, vms: readonly VmRow[]): string[] {
  return [
    img.name,
    img.os,
    bytes(img.size),
    shortId(img.digest, 12),
    img.publisher,
    String(img.servers.length),
    String(vms.filter((v) => v.image === img.name).length),
  ]
}

export function imageDetails(img: ImageRow, pms: readonly PmRow[], vms: readonly VmRow[], now: number): string[] {
  const mine = vms.filter((v) => v.image === img.name)
  const delivering = mine.filter((v) => v.delivery)
  return [
    `${img.name}: ${img.os}, ${bytes(img.size)} (${img.size} bytes), published by ${img.publisher} at ` +
      clock(img.published, now),
    `digest ${img.digest}`,
    `served by ${imageSources(img, pms).join(', ') || 'nobody'}`,
    mine.length
      ? `my machines from it: ${mine.map((v) => v.name || v.id).join(', ')}` +
        (delivering.length ? ` (${delivering.length} being delivered)` : '')
      : 'none of my machines starts from it',
  ]
}
