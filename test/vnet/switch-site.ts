// Test helper: one provider's network side with real guests (TCG): a hypervisor in a temp dir, a switch,
// the VnetService attaching each guest's NIC, and a shell on every guest once DHCP can be asked.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { NicConfig } from '../../src/hv/types.ts'
import { VnetService } from '../../src/vnet/service.ts'
import { Switch } from '../../src/vnet/switch.ts'
import type { ConsoleSession } from '../hv/console.ts'
import { bootGuest, shell } from './guests.ts'
import { killProcessesNaming } from '../hv/strays.ts'

export interface SwitchSite {
  dir: string
  hv: Hypervisor
  sw: Switch
  svc: VnetService
  con: Record<string, ConsoleSession>
  /** Replaces the agent's network side (a new switch and service), as an agent restart does. */
  restart(): Promise<void>
  close(): Promise<void>
}

/** Boots one guest per entry of `nics` on a single provider's switch and opens their shells. */
export async function switchSite(nics: Record<string, NicConfig>): Promise<SwitchSite> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-vnet-'))
  const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', stopTimeoutMs: 5_000 })
  const site: SwitchSite = {
    dir,
    hv,
    sw: new Switch(),
    svc: null as unknown as VnetService,
    con: {},
    async restart() {
      site.svc.close()
      site.sw = new Switch()
      site.svc = new VnetService({ hv, switch: site.sw })
      await site.svc.start()
    },
    async close() {
      for (const c of Object.values(site.con)) c.close()
      site.svc?.close()
      await hv.close()
      await killProcessesNaming(dir)
      await rm(dir, { recursive: true, force: true })
    },
  }
  site.svc = new VnetService({ hv, switch: site.sw })
  await site.svc.start()
  for (const [name, nic] of Object.entries(nics)) await bootGuest(hv, name, nic)
  for (const name of Object.keys(nics)) {
    await site.svc.attached(name)
    site.con[name] = await shell(hv, name)
  }
  return site
}
