// A QEMU machine's directory as files, apart from any process: making it (disk, image copy, vm.json),
// listing the files a migration carries, and taking in the files that arrived from another provider.
import { join } from 'node:path'
import { mkdir, rm, stat } from 'node:fs/promises'
import type { VmConfig } from '../types.ts'
import { createDisk, descriptorName, diskGeometry } from '../disk.ts'
import { checkImportedDisk, checkSavedState } from '../imported.ts'
import { copyImageToDisk } from '../image-disk.ts'
import { HvError, HV_EXISTS, noSpace } from '../errors.ts'
import { exists, readVmRecord, writeVmRecord } from './files.ts'
import { SAVED_STATE } from './args.ts'

export interface NewMachine {
  id: string
  dir: string
  config: VmConfig
  /** The image copied to the disk's start, or null for a blank disk. */
  image: string | null
  /** Free bytes where machines are kept, and that directory (named when the disk does not fit). */
  freeBytes: number
  root: string
}

/** Makes the machine's directory; on any failure nothing of it is left. */
export async function makeMachineDir(m: NewMachine): Promise<void> {
  const { id, dir, config, image } = m
  if (await exists(join(dir, descriptorName())))
    throw new HvError(
      HV_EXISTS,
      `Cannot create machine '${id}': ${dir} already holds a disk; delete that directory or pick another id.`,
    )
  await mkdir(dir, { recursive: true })
  try {
    await createDisk(dir, config.hd, {
      freeBytes: m.freeBytes,
      onNoSpace: (need, free) => noSpace(id, need, free, m.root),
    })
    if (image) {
      const size = (await stat(image)).size
      await copyImageToDisk({ image, size, dir, hdMb: config.hd, isZeroBlock: () => false })
    }
    await writeVmRecord(dir, id, config)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** The files a migration carries: the disk's descriptor and extents, and a saved state if suspended. */
export async function machineFiles(dir: string, id: string): Promise<string[]> {
  const { config } = await readVmRecord(dir, id)
  const g = diskGeometry(config.hd)
  const out = [descriptorName(), ...g.extents.map((e) => e.file)]
  if (await exists(join(dir, SAVED_STATE))) out.push(SAVED_STATE)
  return out
}

/** Checks the files that arrived (they come from a provider we do not trust) and records the machine. */
export async function importMachineDir(dir: string, id: string, config: VmConfig): Promise<'stopped' | 'suspended'> {
  await checkImportedDisk(id, dir, config.hd)
  const suspended = await exists(join(dir, SAVED_STATE))
  if (suspended) await checkSavedState(id, join(dir, SAVED_STATE))
  await writeVmRecord(dir, id, config)
  return suspended ? 'suspended' : 'stopped'
}
