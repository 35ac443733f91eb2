// Making a machine's disk from a raw image: the image's bytes go to the start of the disk, written
// into the VMDK's flat extents (disk.ts) where they fall; the image's zero blocks are skipped, so
// the extents stay sparse there. The image file is only read: the buyer's writes land in the
// extents and never touch the provider's cached image.
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { diskGeometry, SECTOR_BYTES } from './disk.ts'
import { HV_IMAGE_MISSING, HV_NO_SPACE, HvError, badInput } from './errors.ts'

/** Block size of the image manifest (src/vmmp/manifest.ts BLOCK_SIZE). */
export const IMAGE_BLOCK = 64 * 1024
/** Copy in runs of up to 4 MiB: large enough to keep syscalls off the profile. */
const RUN_BLOCKS = 64

export interface CopyImageInput {
  image: string
  size: number
  /** The machine directory holding the extents createDisk made. */
  dir: string
  hdMb: number
  /** True for blocks that are all zeros (known from the manifest, so they are never read). */
  isZeroBlock: (i: number) => boolean
}

/** Writes byte ranges of a disk image into a VMDK's flat extents (disk.ts), where they fall. */
export class DiskWriter {
  private extents: Array<{ start: number; end: number; fh: Promise<FileHandle> | null; file: string }>

  /** `create`: the extents do not exist yet (a disk staged before its machine is made), make them sparse. */
  constructor(
    readonly dir: string,
    hdMb: number,
    private create = false,
  ) {
    this.extents = diskGeometry(hdMb).extents.map((e) => ({
      start: e.start * SECTOR_BYTES,
      end: (e.start + e.sectors) * SECTOR_BYTES,
      fh: null,
      file: join(dir, e.file),
    }))
  }

  get files(): string[] {
    return this.extents.map((e) => e.file)
  }

  async write(buf: Buffer, pos: number): Promise<void> {
    // A run may straddle two extents (cylinders are not a multiple of 64 KiB).
    for (const e of this.extents) {
      const from = Math.max(pos, e.start)
      const to = Math.min(pos + buf.length, e.end)
      if (from >= to) continue
      e.fh ??= this.openExtent(e)
      await (await e.fh).write(buf, from - pos, to - from, from - e.start)
    }
  }

  private async openExtent(e: { start: number; end: number; file: string }): Promise<FileHandle> {
    if (!this.create) return open(e.file, 'r+')
    await mkdir(this.dir, { recursive: true })
    const fh = await open(e.file, 'w+')
    await fh.truncate(e.end - e.start)
    return fh
  }

  async sync(): Promise<void> {
    for (const e of this.extents) if (e.fh) await (await e.fh).sync()
  }

  async close(): Promise<void> {
    for (const e of this.extents) await e.fh?.then((fh) => fh.close()).catch(() => {})
    this.extents.forEach((e) => (e.fh = null))
  }
}

/** Copies the image into the disk's extents; returns the bytes written. */
export async function copyImageToDisk(c: CopyImageInput): Promise<number> {
  const g = diskGeometry(c.hdMb)
  if (c.size > g.bytes) throw tooLarge(c.size, g.bytes)
  const src = await open(c.image, 'r')
  const disk = new DiskWriter(c.dir, c.hdMb)
  const buf = Buffer.allocUnsafe(IMAGE_BLOCK * RUN_BLOCKS)
  let written = 0
  try {
    const blocks = Math.ceil(c.size / IMAGE_BLOCK)
    for (let i = 0; i < blocks;) {
      if (c.isZeroBlock(i)) {
        i++
        continue
      }
      let n = 1
      while (i + n < blocks && n < RUN_BLOCKS && !c.isZeroBlock(i + n)) n++
      const pos = i * IMAGE_BLOCK
      const len = Math.min(n * IMAGE_BLOCK, c.size - pos)
      let got = 0
      while (got < len) {
        const { bytesRead } = await src.read(buf, got, len - got, pos + got)
        if (bytesRead === 0) throw new HvError(HV_IMAGE_MISSING, `the image ${c.image} is shorter than ${c.size} bytes`)
        got += bytesRead
      }
      await disk.write(buf.subarray(0, len), pos)
      written += len
      i += n
    }
    await disk.sync()
    return written
  } catch (err) {
    throw diskError(err, c.dir)
  } finally {
    await src.close()
    await disk.close()
  }
}

export const tooLarge = (size: number, bytes: number): Error =>
  badInput('image', `the image (${size} bytes) is larger than the ${bytes}-byte disk`, 'ask for a larger disk')

/** A full disk as HV_NO_SPACE; anything else as it came. */
export function diskError(err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new HvError(HV_NO_SPACE, `No space left writing the image into ${dir}; free space and retry.`, {
      cause: err,
    })
  return err
}
