// The first-boot seed of a machine: a NoCloud volume (ISO 9660 labelled `cidata` holding meta-data
// and user-data, the files cloud-init reads), attached as a read-only second virtio disk. Our images
// read it with a small script (fixtures/images/debian-12/virtuoso-seed); an image with cloud-init
// reads the same volume. Chosen over SMBIOS/fw_cfg: those carry a few strings at most, need a module
// the cloud kernel builds as =m, and no stock image reads them. The seed is made again at every boot
// from guest.json, so a password or key change reaches the machine at its next start.
import { mkdtemp, readFile, rm, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import type { GuestSetup } from '../types.ts'
import { HvError, HV_VMM_FAILED } from '../errors.ts'
import { SEED_ISO } from './args.ts'

/** What the market last said about the guest, kept beside the disk (not migrated: the hub says it again). */
export const GUEST_FILE = 'guest.json'

/** A machine the market said nothing about is named by its id. */
export function defaultGuest(id: string): GuestSetup {
  return {
    hostname: id
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 63),
    sshKeys: [],
  }
}

export async function readGuest(dir: string): Promise<GuestSetup | null> {
  try {
    return JSON.parse(await readFile(join(dir, GUEST_FILE), 'utf8')) as GuestSetup
  } catch {
    return null
  }
}

export async function writeGuest(dir: string, g: GuestSetup): Promise<void> {
  const tmp = join(dir, `${GUEST_FILE}.tmp`)
  await writeFile(tmp, JSON.stringify(g, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, join(dir, GUEST_FILE))
}

/** meta-data: YAML with the keys NoCloud knows. */
export function metaData(id: string, g: GuestSetup): string {
  return `instance-id: ${id}\nlocal-hostname: ${g.hostname}\n`
}

/** user-data: the #cloud-config subset our images apply (and cloud-init understands). */
export function userData(g: GuestSetup): string {
  const lines = ['#cloud-config', `hostname: ${g.hostname}`]
  if (g.sshKeys.length) lines.push('ssh_authorized_keys:', ...g.sshKeys.map((k) => `  - "${k}"`))
  if (g.hostKey) {
    // cloud-init's names; the private key as a YAML block scalar.
    lines.push('ssh_keys:', '  ed25519_private: |')
    lines.push(
      ...g.hostKey.private
        .trim()
        .split('\n')
        .map((l) => `    ${l}`),
    )
    lines.push(`  ed25519_public: ${g.hostKey.public}`)
  }
  if (g.passwordHash) {
    lines.push('chpasswd:', '  expire: false', '  users:')
    lines.push(`    - {name: root, password: "${g.passwordHash}", type: hash}`)
  }
  return lines.join('\n') + '\n'
}

/** Write `<dir>/seed.iso` for machine `id` (xorriso, from Debian's xorriso package). */
export async function writeSeed(dir: string, id: string, g: GuestSetup, xorriso = 'xorriso'): Promise<void> {
  const tmp = await mkdtemp(join(dir, '.seed-'))
  try {
    await writeFile(join(tmp, 'meta-data'), metaData(id, g))
    await writeFile(join(tmp, 'user-data'), userData(g))
    const out = join(tmp, SEED_ISO)
    const args = ['-as', 'genisoimage', '-quiet', '-output', out, '-volid', 'cidata', '-joliet', '-rock']
    await run(xorriso, [...args, join(tmp, 'user-data'), join(tmp, 'meta-data')])
    await rename(out, join(dir, SEED_ISO))
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}

function run(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(bin, args, { timeout: 30_000 }, (err, _out, stderr) => {
      if (!err) return resolve()
      const why = (stderr || err.message).trim().split('\n').pop()
      reject(
        new HvError(
          HV_VMM_FAILED,
          `Cannot make the first-boot seed (${bin}: ${why}); install Debian's xorriso (bash .ci/run does).`,
          { cause: err },
        ),
      )
    }),
  )
}
