// Per-machine console passwords on the provider (report §6.2.4 kept one VNC password file per
// machine). Only a scrypt hash is stored, one small file per machine (mode 0600), so a copied data
// dir gives nobody a console. The owner sets it through the hub (`virtuoso console passwd`). The
// same password becomes the guest's root password at its next start: beside the scrypt hash sits
// its SHA-512 crypt hash (`VMID.crypt`), the one thing the guest's NoCloud seed needs.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { scrypt, SCRYPT } from '../scrypt.ts'
import { readFile, rm, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { checkVmId } from '../hv/validate.ts'
import { privateDir } from '../secret-file.ts'
import { sha512Crypt } from './crypt.ts'
import { ConsoleError, CONSOLE_PASSWORD } from './errors.ts'

export const MIN_CONSOLE_PASSWORD = 8
export const MAX_CONSOLE_PASSWORD = 1024
export function checkConsolePassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < MIN_CONSOLE_PASSWORD) {
    throw new ConsoleError(
      CONSOLE_PASSWORD,
      `a console password needs at least ${MIN_CONSOLE_PASSWORD} characters; choose a longer one`,
    )
  }
  if (password.length > MAX_CONSOLE_PASSWORD)
    throw new ConsoleError(CONSOLE_PASSWORD, `a console password may have at most ${MAX_CONSOLE_PASSWORD} characters`)
}

export class ConsolePasswords {
  constructor(readonly dir: string) {}

  async set(vmId: string, password: string): Promise<void> {
    checkVmId(vmId)
    checkConsolePassword(password)
    await privateDir(this.dir)
    const salt = randomBytes(16)
    const hash = await scrypt(password, salt, SCRYPT, SCRYPT.keylen)
    const line = `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}\n`
    // The guest's root password too, as the crypt hash its first-boot seed carries (crypt.ts).
    await this.write(this.cryptFile(vmId), (await sha512Crypt(password)) + '\n')
    await this.write(this.file(vmId), line)
  }

  /** Write then rename: a crash never leaves a half-written hash that locks the owner out. */
  private async write(file: string, text: string): Promise<void> {
    const tmp = file + '.tmp'
    await writeFile(tmp, text, { mode: 0o600 })
    await rename(tmp, file)
  }

  /** The root password hash for the guest's seed, or null when the owner set no console password. */
  async cryptHash(vmId: string): Promise<string | null> {
    try {
      checkVmId(vmId)
      return (await readFile(this.cryptFile(vmId), 'utf8')).trim() || null
    } catch {
      return null
    }
  }

  async has(vmId: string): Promise<boolean> {
    return (await this.read(vmId)) !== null
  }

  /** False for a wrong password, an unknown machine or one without a password: callers can't tell which. */
  async verify(vmId: string, password: string): Promise<boolean> {
    const line = await this.read(vmId)
    if (!line || typeof password !== 'string' || password.length > MAX_CONSOLE_PASSWORD) return false
    const [kind, n, r, p, salt, hash] = line.trim().split('$')
    if (kind !== 'scrypt') return false
    const want = Buffer.from(hash, 'base64')
    const cost = { N: Number(n), r: Number(r), p: Number(p) }
    const got = await scrypt(password, Buffer.from(salt, 'base64'), cost, want.length)
    return got.length === want.length && timingSafeEqual(got, want)
  }

  async delete(vmId: string): Promise<void> {
    await rm(this.file(vmId), { force: true })
    await rm(this.cryptFile(vmId), { force: true })
  }

  private async read(vmId: string): Promise<string | null> {
    try {
      checkVmId(vmId)
    } catch {
      return null
    }
    try {
      return await readFile(this.file(vmId), 'utf8')
    } catch (err: any) {
      if (err.code === 'ENOENT') return null
      throw err
    }
  }

  private file(vmId: string): string {
    return join(this.dir, `${vmId}.scrypt`)
  }

  private cryptFile(vmId: string): string {
    return join(this.dir, `${vmId}.crypt`)
  }
}
