// The client-side profile written by `virtuoso login`: which market, how to reach it, and the
// session token. Kept mode 0600 under $VIRTUOSO_HOME (default ~/.virtuoso).
import { mkdir, readFile, writeFile, unlink, chmod } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'

export interface Profile {
  market: string
  bootstrap: string
  user?: string
  type?: 'buyer' | 'provider'
  token?: string
  expires?: number
}

export function profileDir(): string {
  return process.env.VIRTUOSO_HOME || join(homedir(), '.virtuoso')
}

export function profilePath(): string {
  return join(profileDir(), 'profile.json')
}

export async function readProfile(): Promise<Profile | null> {
  try {
    return JSON.parse(await readFile(profilePath(), 'utf8'))
  } catch {
    return null
  }
}

export async function writeProfile(p: Profile): Promise<void> {
  await mkdir(profileDir(), { recursive: true, mode: 0o700 })
  await writeFile(profilePath(), JSON.stringify(p, null, 2) + '\n', { mode: 0o600 })
  await chmod(profilePath(), 0o600) // writeFile keeps the mode of a file that already existed
}

export async function clearSession(): Promise<void> {
  const p = await readProfile()
  if (!p) return
  delete p.token
  delete p.expires
  delete p.user
  delete p.type
  if (!p.market) await unlink(profilePath()).catch(() => {})
  else await writeProfile(p)
}
