// The demo's debian-12 machine (issue 12), made while the dashboard is already up so it never holds
// the demo's start-up: the operator publishes the image built by fixtures/images/build.sh into the
// hub's catalog (hashed and deflated once), the buyer registers 'debian' from it, its store delivers
// the image to a provider (the Machines view shows 'migrating' with the delivery's progress), and
// its start boots it under QEMU (TCG: a minute or two to the login prompt on this kind of machine).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { packageRoot } from '../root.ts'
import type { MarketClient } from '../client/market-client.ts'
import { callAdmin } from '../hub/admin-socket.ts'

export const DEBIAN_IMAGE = join(packageRoot(), 'fixtures/images/build/debian-12.img')

export interface DebianSeed {
  hubDir: string
  /** The provider machine it is stored on. */
  pmId: string
}

/** Publish, register, store (the image is delivered), start; failures are logged, never thrown. */
export async function bootDebian(
  connect: (token?: string) => Promise<MarketClient>,
  seed: DebianSeed,
  buyer: { user: string; password: string },
  log: (l: string) => void,
  stopping: () => boolean,
): Promise<void> {
  if (!existsSync(DEBIAN_IMAGE)) {
    log(`no debian-12 machine: ${DEBIAN_IMAGE} is not built (bash fixtures/images/build.sh debian-12)`)
    return
  }
  let client: MarketClient | null = null
  try {
    log('debian: publishing the debian-12 image in the catalog')
    await callAdmin(seed.hubDir, 'image.add', { name: 'debian-12', os: 'debian-12', file: DEBIAN_IMAGE })
    const anon = await connect()
    const { token } = await anon.call('login', { username: buyer.user, password: buyer.password })
    await anon.close()
    client = await connect(token)
    const vm = await client.call('register', { config: 'medium', image: 'debian-12', name: 'debian' })
    if (stopping()) return
    log('debian: delivering the debian-12 image to its provider (see Machines)')
    await client.call('store', { vmId: vm.id, pmId: seed.pmId }, { timeoutMs: 600_000 })
    if (stopping()) return
    await client.call('start', { vmId: vm.id }, { timeoutMs: 300_000 })
    log('debian: started; its console shows the login prompt once it has booted')
  } catch (err) {
    if (!stopping()) log(`debian: ${(err as Error).message}`)
  } finally {
    await client?.close().catch(() => {})
  }
}
