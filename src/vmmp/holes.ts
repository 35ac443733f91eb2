// Where a file holds data, so hashing skips its holes: a 3000 MB disk with 20 MiB written is read as
// 20 MiB, not 3000 MB (reading holes back as zeros measured about 3 s per GiB here, hashing
// included). Node has no lseek(SEEK_DATA/SEEK_HOLE), and `qemu-img map` (installed with QEMU on
// every provider) asks exactly that of the file system; `-U` lets it read a file another QEMU holds.
// Anything unexpected (no qemu-img, a file system without SEEK_DATA, odd output) answers null, and
// the caller reads the whole file, as before.
import { execFile } from 'node:child_process'

/** Files smaller than this are read whole: the map would cost more than it saves. */
export const MAP_MIN_BYTES = 32 * 1024 * 1024
const MAP_TIMEOUT_MS = 10_000

interface MapEntry {
  start: number
  length: number
  zero: boolean
}

/**
 * The byte ranges [start, end) of `path` that may hold non-zero data, sorted and disjoint, or null
 * when unknown. A range not listed reads back as zeros (a hole, or a range known to be zero).
 */
export function dataRanges(path: string, size: number): Promise<Array<[number, number]> | null> {
  if (size < MAP_MIN_BYTES) return Promise.resolve(null)
  return new Promise((resolve) => {
    execFile(
      'qemu-img',
      ['map', '-U', '-f', 'raw', '--output=json', path],
      { timeout: MAP_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout) => {
        if (err) return resolve(null)
        resolve(parseMap(stdout, size))
      },
    )
  })
}

/** `qemu-img map --output=json` -> the non-zero ranges; null unless the entries tile the file. */
export function parseMap(json: string, size: number): Array<[number, number]> | null {
  let entries: MapEntry[]
  try {
    entries = JSON.parse(json)
  } catch {
    return null
  }
  if (!Array.isArray(entries)) return null
  const out: Array<[number, number]> = []
  let pos = 0
  for (const e of entries) {
    if (!e || !Number.isSafeInteger(e.start) || !Number.isSafeInteger(e.length) || e.start !== pos) return null
    pos = e.start + e.length
    if (e.zero === true) continue
    const last = out[out.length - 1]
    if (last && last[1] === e.start) last[1] = pos
    else out.push([e.start, pos])
  }
  // qemu rounds a raw file's length up to whole 512-byte sectors.
  if (pos < size || pos - size >= 512) return null
  return out.filter(([a]) => a < size).map(([a, b]) => [a, Math.min(b, size)])
}
