// The address a provider publishes for its SSH console: other machines dial it, so it must be one
// they can reach. A bind address that names one interface is that address; a wildcard bind (0.0.0.0,
// ::) is never published as such: the operator's --ssh-host wins, else the first non-loopback IPv4
// address of this machine, else loopback (then only this machine can reach the console).
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', ''])

export function isWildcard(host: string): boolean {
  return WILDCARDS.has(host)
}

export function advertisedHost(
  bind: string,
  given: string | undefined,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): string {
  if (given && !isWildcard(given)) return given
  if (!isWildcard(bind)) return bind
  for (const list of Object.values(interfaces))
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address
  return '127.0.0.1'
}
