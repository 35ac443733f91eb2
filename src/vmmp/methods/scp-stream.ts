// What SCP's one SSH session carries, origin to destination: MAGIC, the block manifest (its length as a
// u32, then manifest.ts's binary form), then the bytes of every non-zero block, in file order and block
// order, and nothing else. Both sides derive the same runs from the manifest, so the data needs no
// framing: the destination knows where each byte goes and which hash it must match before it is written.
import { BLOCK_SIZE, HASH_BYTES, blockCount, isZeroHash, rootOf, type FileManifest } from '../manifest.ts'
import { checkName } from '../paths.ts'
import { vmmpError } from '../errors.ts'

/** Names the format: a peer that sends anything else (an old node, another program) is refused at once. */
export const SCP_MAGIC = Buffer.from('VMMPSCP2')
/** The longest run read or written at once: few syscalls, and small enough to pipeline. */
export const RUN_MAX = 1024 * 1024
/** Both sides' one-time directories (owned-temp.ts): `virtuoso-scp-<pid>-XXXXXX` in the temp dir. */
export const TEMP_PREFIX = 'virtuoso-scp-'
/** A manifest longer than this is refused (2 TiB of disk is 1 GiB of hashes; ours are far smaller). */
export const MAX_MANIFEST = 64 * 1024 * 1024

export interface Run {
  file: number
  pos: number
  len: number
  firstBlock: number
}

/** The non-zero blocks, merged into runs of up to RUN_MAX within a file. */
export function planRuns(files: FileManifest[]): Run[] {
  const runs: Run[] = []
  for (const [i, f] of files.entries()) {
    const n = blockCount(f.size)
    for (let b = 0; b < n; b++) {
      if (isZeroHash(f.hashes.subarray(b * HASH_BYTES, (b + 1) * HASH_BYTES))) continue
      const len = Math.min(BLOCK_SIZE, f.size - b * BLOCK_SIZE)
      const last = runs[runs.length - 1]
      if (last && last.file === i && last.pos + last.len === b * BLOCK_SIZE && last.len + len <= RUN_MAX)
        last.len += len
      else runs.push({ file: i, pos: b * BLOCK_SIZE, len, firstBlock: b })
    }
  }
  return runs
}

/** The manifest's files with safe names and hash lists that match their roots. */
export function checkedFiles(list: FileManifest[]): FileManifest[] {
  const files = list.map((f) => ({ ...f, name: checkName(f.name) }))
  for (const f of files)
    if (f.hashes.length !== blockCount(f.size) * HASH_BYTES || rootOf(f.size, f.hashes) !== f.root)
      throw vmmpError.corrupt(`hash list of ${f.name} does not match its root`)
  return files
}

/** MAGIC and the manifest's length: what precedes the manifest on the wire. */
export function streamHead(manifest: Buffer): Buffer {
  const head = Buffer.alloc(SCP_MAGIC.length + 4)
  SCP_MAGIC.copy(head)
  head.writeUInt32BE(manifest.length, SCP_MAGIC.length)
  return head
}
