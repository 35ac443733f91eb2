// IPv4 addresses and subnets as the market and the switch use them (no library: a few lines).

export function ipToInt(ip: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip)
  if (!m) return NaN
  const parts = m.slice(1).map(Number)
  if (parts.some((x) => x > 255)) return NaN
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

export interface Subnet {
  /** Network address as an integer. */
  base: number
  prefix: number
}

/** '10.42.0.0/24' -> { base, prefix }, or null when it is not a CIDR with the host bits zero. */
export function parseCidr(text: string): Subnet | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text)
  if (!m) return null
  const base = ipToInt(m[1])
  const prefix = Number(m[2])
  if (Number.isNaN(base) || prefix > 32) return null
  if ((base & ~maskOf(prefix)) >>> 0 !== 0) return null
  return { base, prefix }
}

/** The switch's own address in a subnet (DHCP server, later the gateway): the first host. */
export function gatewayOf(address: string, prefix: number): string {
  return intToIp(((ipToInt(address) & maskOf(prefix)) + 1) >>> 0)
}
