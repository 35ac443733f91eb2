// The files the QEMU driver reads besides a machine's disk: each machine's vm.json record, and the
// programs it runs (found in PATH once, at open).
import { access, constants, readFile, writeFile } from 'node:fs/promises'
import { delimiter, join, resolve } from 'node:path'
import type { VmConfig } from '../types.ts'
import { HvError, HV_NOT_FOUND } from '../errors.ts'
import { missing } from './proc.ts'
import { VM_FILE } from './args.ts'

export async function writeVmRecord(dir: string, id: string, config: VmConfig): Promise<void> {
  await writeFile(join(dir, VM_FILE), JSON.stringify({ id, config }, null, 2) + '\n')
}

export async function readVmRecord(dir: string, id: string): Promise<{ id: string; config: VmConfig }> {
  try {
    return JSON.parse(await readFile(join(dir, VM_FILE), 'utf8'))
  } catch (err) {
    throw new HvError(HV_NOT_FOUND, `Machine '${id}' has no ${VM_FILE} in ${dir}; it was never created here.`, {
      cause: err,
    })
  }
}

export async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  )
}

/** Resolve a program name in PATH (or check a path) now, so a missing QEMU fails at open, not mid-start. */
export async function which(bin: string): Promise<string> {
  const candidates = bin.includes('/')
    ? [resolve(bin)]
    : (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).map((d) => join(d, bin))
  for (const c of candidates) {
    if (
      await access(c, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return c
  }
  throw missing(bin)
}
