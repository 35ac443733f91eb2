// Plain disks as in report §6.2.5: 255 heads, 63 sectors per track, whole cylinders, cut into extents of
// whole cylinders of at most 2047 MB each, described by a VMDK `twoGbMaxExtentFlat` descriptor that
// QEMU (and qemu-img) read natively. Extents are created sparse (ftruncate): the report's disks were
// zero-filled, which costs minutes and the same bytes a sparse file reads back.
//
// Sizes under 2048 MB are refused (HV_BAD_INPUT): the report's fixed 255/63 geometry assumes disks over
// 2 GB, and every machine the market sells is larger, so no second, smaller geometry is kept.
import { open, mkdir, writeFile, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { HvError, HV_NO_SPACE, badInput } from './errors.ts'

export const HEADS = 255
export const SECTORS = 63
export const SECTOR_BYTES = 512
/** Sectors in one cylinder: 255 × 63. */
export const CYLINDER_SECTORS = HEADS * SECTORS
/** Smallest disk we make, in MB (report: "provided SIZE > 2048"). */
export const MIN_DISK_MB = 2048
/** Largest disk we make, in MB (1 TiB): far beyond any machine sold, small enough to catch typos. */
export const MAX_DISK_MB = 1024 * 1024
/** An extent holds whole cylinders and at most this many MB (report: files of at most 2 GB). */
export const MAX_EXTENT_MB = 2047
export const MAX_EXTENT_CYLINDERS = Math.floor((MAX_EXTENT_MB * 2048) / CYLINDER_SECTORS)
export const DEFAULT_DISK_NAME = 'disk'

export interface Extent {
  /** File name, relative to the machine directory. */
  file: string
  /** Sector offset of this extent in the whole disk. */
  start: number
  sectors: number
}

export interface DiskGeometry {
  mb: number
  cylinders: number
  heads: number
  sectors: number
  /** Total sectors of the disk (the report's CAPACITY). */
  capacity: number
  bytes: number
  extents: Extent[]
}

export function checkDiskSize(mb: unknown): asserts mb is number {
  if (typeof mb !== 'number' || !Number.isInteger(mb)) {
    throw badInput(
      'disk size',
      `${String(mb)} is not a whole number of MB`,
      `give the size in MB, at least ${MIN_DISK_MB}`,
    )
  }
  if (mb < MIN_DISK_MB) {
    throw badInput(
      'disk size',
      `${mb} MB is below the ${MIN_DISK_MB} MB minimum of the 255-head/63-sector geometry (report §6.2.5)`,
      `ask for at least ${MIN_DISK_MB} MB`,
    )
  }
  if (mb > MAX_DISK_MB) {
    throw badInput('disk size', `${mb} MB is above the ${MAX_DISK_MB} MB maximum`, 'ask for a smaller disk')
  }
}

/** Geometry for a request of `mb` MB: cylinders = floor(MB × 2048 / 16065), extents of whole cylinders. */
export function diskGeometry(mb: number, name = DEFAULT_DISK_NAME): DiskGeometry {
  checkDiskSize(mb)
  const cylinders = Math.floor((mb * 2048) / CYLINDER_SECTORS)
  const capacity = cylinders * CYLINDER_SECTORS
  const extents: Extent[] = []
  for (let done = 0, i = 1; done < cylinders; i++) {
    const cyl = Math.min(MAX_EXTENT_CYLINDERS, cylinders - done)
    extents.push({ file: extentName(name, i), start: done * CYLINDER_SECTORS, sectors: cyl * CYLINDER_SECTORS })
    done += cyl
  }
  return { mb, cylinders, heads: HEADS, sectors: SECTORS, capacity, bytes: capacity * SECTOR_BYTES, extents }
}

export function extentName(name: string, i: number): string {
  return `${name}-f${String(i).padStart(3, '0')}.vmdk`
}

export function descriptorName(name = DEFAULT_DISK_NAME): string {
  return `${name}.vmdk`
}

/** The VMDK descriptor text (VMware "Virtual Disk Format 1.1", monolithic descriptor, flat extents). */
export function vmdkDescriptor(g: DiskGeometry, cid = 0xfffffffe): string {
  const lines = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    `CID=${cid.toString(16).padStart(8, '0')}`,
    'parentCID=ffffffff',
    'createType="twoGbMaxExtentFlat"',
    '',
    '# Extent description',
    ...g.extents.map((e) => `RW ${e.sectors} FLAT "${e.file}" 0`),
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "4"',
    `ddb.geometry.cylinders = "${g.cylinders}"`,
    `ddb.geometry.heads = "${g.heads}"`,
    `ddb.geometry.sectors = "${g.sectors}"`,
    'ddb.adapterType = "lsilogic"',
    '',
  ]
  return lines.join('\n')
}

/** Free bytes for an unprivileged writer in `dir` (statfs bavail × bsize). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir)
  return Number(s.bavail) * Number(s.bsize)
}

export interface CreateDiskOptions {
  name?: string
  /** Free bytes to assume instead of asking statfs (tests inject a full disk this way). */
  freeBytes?: number
  /** Called with (needMb, freeMb) when the disk does not fit; must return the error to throw. */
  onNoSpace?: (needMb: number, freeMb: number) => Error
}

/** Write the descriptor and sparse extents into `dir` (made if missing). Returns files made, relative to dir. */
export async function createDisk(
  dir: string,
  mb: number,
  opts: CreateDiskOptions = {},
): Promise<{ geometry: DiskGeometry; files: string[] }> {
  const name = opts.name ?? DEFAULT_DISK_NAME
  const g = diskGeometry(mb, name)
  await mkdir(dir, { recursive: true })
  const free = opts.freeBytes ?? (await freeBytes(dir))
  if (free < g.bytes) {
    const needMb = Math.ceil(g.bytes / 1048576)
    const freeMb = Math.floor(free / 1048576)
    throw opts.onNoSpace
      ? opts.onNoSpace(needMb, freeMb)
      : new HvError(
          HV_NO_SPACE,
          `Cannot create a ${needMb} MB disk: only ${freeMb} MB are free in ${dir}; free some space.`,
        )
  }
  for (const e of g.extents) {
    const fh = await open(join(dir, e.file), 'wx')
    try {
      await fh.truncate(e.sectors * SECTOR_BYTES)
    } finally {
      await fh.close()
    }
  }
  await writeFile(join(dir, descriptorName(name)), vmdkDescriptor(g), { flag: 'wx' })
  return { geometry: g, files: [descriptorName(name), ...g.extents.map((e) => e.file)] }
}

/**
 * How a deleted machine's directory goes. No retries on ENOTEMPTY: the one writer that raced a delete,
 * the block manifest computed in the background after a stop (vmmp/warm-manifests.ts), is cancelled
 * and waited for before the directory is removed (Hypervisor.beforeRemove), so a retry would only
 * hide a new writer (test/vmmp/manifest-cancel.test.ts).
 */
export const REMOVE_MACHINE_DIR = { recursive: true, force: true } as const
