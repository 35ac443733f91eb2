// A machine's stored record and the copy of it callers see: callers never hold our objects, so a
// caller changing a config it was given cannot change the stored one.
import type { HvState, HvVm, VmConfig } from './types.ts'
import type { VmRecord } from './store.ts'

export function newRecord(
  id: string,
  config: VmConfig,
  version: number,
  origin: string | null,
  state: HvState,
): VmRecord {
  const now = Date.now()
  return { id, state, version, config, origin, createdAt: now, updatedAt: now }
}

export function view(rec: VmRecord): HvVm {
  return { id: rec.id, state: rec.state, version: rec.version, config: copyConfig(rec.config), origin: rec.origin }
}

export function copyConfig(c: VmConfig): VmConfig {
  const out: VmConfig = { memory: c.memory, hd: c.hd, speed: c.speed, os: c.os }
  if (c.nic) out.nic = { mac: c.nic.mac, net: c.nic.net, address: c.nic.address, prefix: c.nic.prefix }
  if (c.media) out.media = c.media
  return out
}
