// The provider's own OS images: one raw whole-disk file per OS (partition table, GRUB, root file
// system), built by fixtures/images/build.sh. A machine of such an OS that the market gives no
// catalog image for (the built-in 'linux') starts with that file at the start of its disk
// (image-disk.ts), so it boots from its own disk and carries its OS when it migrates; the guest
// grows its file system into the rest at first boot.
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { packageRoot } from '../root.ts'
import { HvError, HV_IMAGE_MISSING } from './errors.ts'

/** Where fixtures/images/build.sh leaves `<os>.img` (and `<os>.json`). */
export const DEFAULT_IMAGE_DIR = join(packageRoot(), 'fixtures/images/build')

/** The image file of `os` in `dir`, or HV_IMAGE_MISSING naming the command that builds it. */
export async function imageFile(dir: string, os: string): Promise<string> {
  const file = join(dir, `${os}.img`)
  const st = await stat(file).catch(() => null)
  if (!st?.isFile())
    throw new HvError(
      HV_IMAGE_MISSING,
      `No image for OS '${os}' on this provider (${file} missing); build it: bash fixtures/images/build.sh ${os}.`,
    )
  return file
}
