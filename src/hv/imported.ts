// Files that arrive by migration come from another provider, which we do not trust (issue 11, item
// 1). Before qemu-nbd or QEMU opens them: the VMDK descriptor must be exactly the one the market's
// configuration gives (only its CID may differ: QEMU rewrites it on a disk's first write), every
// extent must be a regular file of exactly its size (not a link to another machine's disk or to the
// node's identity), and a saved state must be a QEMU migration stream. The descriptor is then
// written anew from the configuration, so what QEMU reads is ours, not the origin's.
import { lstat, open, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { descriptorName, diskGeometry, SECTOR_BYTES, vmdkDescriptor } from './disk.ts'
import { HvError, HV_BAD_INPUT } from './errors.ts'

const MAX_DESCRIPTOR_BYTES = 64 * 1024
// QEMU writes its CID unpadded ('%x') and the whole descriptor sector back, NUL-padded (measured).
const CID_LINE = /^CID=([0-9a-f]{1,8})$/m
/** QEMU_VM_FILE_MAGIC 'QEVM' then QEMU_VM_FILE_VERSION 3, big-endian (migration/savevm.c). */
const QEMU_STATE_HEAD = Buffer.from([0x51, 0x45, 0x56, 0x4d, 0x00, 0x00, 0x00, 0x03])

const refuse = (id: string, why: string) =>
  new HvError(HV_BAD_INPUT, `Refusing the files of machine '${id}' that arrived: ${why}; the migration must be redone.`)

async function regular(path: string): Promise<{ size: number } | null> {
  const st = await lstat(path).catch(() => null)
  return st && st.isFile() ? { size: st.size } : null
}

/** Checks the disk of an arrived machine against its configured size and rewrites its descriptor. */
export async function checkImportedDisk(id: string, dir: string, hdMb: number): Promise<void> {
  const g = diskGeometry(hdMb)
  const name = descriptorName()
  const desc = await regular(join(dir, name))
  if (!desc) throw refuse(id, `${name} is missing or not a regular file`)
  if (desc.size > MAX_DESCRIPTOR_BYTES) throw refuse(id, `${name} is ${desc.size} bytes, not a descriptor`)
  const raw = await readFile(join(dir, name), 'latin1')
  const got = raw.replace(/\0+$/, '')
  const cid = CID_LINE.exec(got)?.[1]
  const want = vmdkDescriptor(g, cid ? parseInt(cid, 16) : undefined)
  const norm = cid ? got.replace(CID_LINE, want.match(CID_LINE)![0]) : got
  if (!cid || norm !== want) throw refuse(id, `${name} is not the descriptor of a ${hdMb} MB disk`)
  for (const e of g.extents) {
    const st = await regular(join(dir, e.file))
    if (!st) throw refuse(id, `extent ${e.file} is missing or not a regular file`)
    if (st.size !== e.sectors * SECTOR_BYTES)
      throw refuse(id, `extent ${e.file} is ${st.size} bytes, expected ${e.sectors * SECTOR_BYTES}`)
  }
  // Already exactly ours (a machine coming back to a copy this node wrote): left as it is, so the
  // block manifest cached for it stays valid and the next trip from here need not hash it again.
  const st = await lstat(join(dir, name))
  if (got === raw && raw === want && st.nlink === 1 && (st.mode & 0o777) === 0o600) return
  const tmp = join(dir, `${name}.tmp`)
  await writeFile(tmp, want, { mode: 0o600 })
  await rename(tmp, join(dir, name))
}

/** A saved state QEMU is asked to load must be a regular file holding a QEMU migration stream. */
export async function checkSavedState(id: string, path: string): Promise<void> {
  if (!(await regular(path))) throw refuse(id, 'the saved state is not a regular file')
  const fh = await open(path, 'r')
  try {
    const head = Buffer.alloc(QEMU_STATE_HEAD.length)
    const { bytesRead } = await fh.read(head, 0, head.length, 0)
    if (bytesRead !== head.length || !head.equals(QEMU_STATE_HEAD))
      throw refuse(id, 'the saved state is not a QEMU migration stream (QEVM version 3)')
  } finally {
    await fh.close()
  }
}
