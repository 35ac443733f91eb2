// Per-machine console passwords on the provider (report §6.2.4 kept one VNC password file per
// machine). Only a scrypt hash is stored, one small file per machine (mode 0600), so a copied data
// dir gives nobody a console. The owner sets it through the hub (`virtuoso console passwd`). The
// same password becomes the guest's root password at its next start: beside the scrypt hash sits
// its SHA-512 crypt hash (`VMID.crypt`), the one thing the guest's NoCloud seed needs.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { needsRehash, scrypt, scryptCost, SCRYPT_KEYLEN, type ScryptCost } from '../scrypt.ts'
import { Gate } from '../net/limits.ts'
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

export interface ConsolePasswordOptions {
  /** scrypt N for new hashes (default 2^17; tests pass a low one). */
  scryptN?: number
  /** Hashes at once and waiting (each costs 128 MiB at 2^17); past that NODE_BUSY. */
  jobs?: number
  queue?: number
}

export class ConsolePasswords {
  readonly cost: ScryptCost
  /** Like the hub's password gate: SSH logins can't make the provider run many 128 MiB hashes at once. */
  private gate: Gate

  constructor(
    readonly dir: string,
    opts: ConsolePasswordOptions = {},
  ) {
    this.cost = scryptCost(opts.scryptN)
    this.gate = new Gate(opts.jobs ?? 2, opts.queue ?? 16, 'console password checks')
  }

  async set(vmId: string, password: string): Promise<void> {
    checkVmId(vmId)
    checkConsolePassword(password)
    await privateDir(this.dir)
    const line = await this.gate.run(() => this.hashLine(password))
    // The guest's root password too, as the crypt hash its first-boot seed carries (crypt.ts).
    await this.write(this.cryptFile(vmId), (await sha512Crypt(password)) + '\n')
    await this.write(this.file(vmId), line)
  }

  private async hashLine(password: string): Promise<string> {
    const salt = randomBytes(16)
    const hash = await scrypt(password, salt, this.cost, SCRYPT_KEYLEN)
    const { N, r, p } = this.cost
    return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${hash.toString('base64')}\n`
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

  /**
   * False for a wrong password, an unknown machine or one without a password: callers can't tell which.
   * A right password whose hash is older than the current cost is hashed again (issue 11, item 8).
   */
  async verify(vmId: string, password: string): Promise<boolean> {
    const line = await this.read(vmId)
    if (!line || typeof password !== 'string' || password.length > MAX_CONSOLE_PASSWORD) return false
    const [kind, n, r, p, salt, hash] = line.trim().split('$')
    if (kind !== 'scrypt') return false
    const want = Buffer.from(hash, 'base64')
    const cost = { N: Number(n), r: Number(r), p: Number(p) }
    const got = await this.gate.run(() => scrypt(password, Buffer.from(salt, 'base64'), cost, want.length))
    const ok = got.length === want.length && timingSafeEqual(got, want)
    if (ok && needsRehash(cost, this.cost)) {
      const again = await this.gate.run(() => this.hashLine(password))
      // Only over the line just checked: a password set meanwhile stays.
      if ((await this.read(vmId)) === line) await this.write(this.file(vmId), again)
    }
    return ok
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
