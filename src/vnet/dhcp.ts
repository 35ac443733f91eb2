// The switch's DHCP server: a guest's DISCOVER or REQUEST gets the market's assignment for its port,
// so any guest that runs a DHCP client (busybox udhcpc, systemd-networkd, dhclient) is configured with
// nothing special. Only what a client needs is parsed; anything else is not DHCP and is switched.
import { ETH_HEADER, ETHERTYPE_IPV4, etherType, macBytes } from './frame.ts'
import { gatewayOf, ipToInt, maskOf } from './ipv4.ts'

/** The switch's own MAC (locally administered; the market's machines use the 02: prefix). */
export const SWITCH_MAC = '06:00:00:00:00:01'
const BOOTP_FIXED = 236
const COOKIE = 0x63825363
/** A day: clients renew at half of it, which keeps a lost reply harmless. */
export const LEASE_S = 86_400

export interface Lease {
  address: string
  prefix: number
  /** Optional default route (guest outbound NAT); absent = a closed LAN. */
  router?: string | null
}

/** The DHCP message type of a client's request in `frame`, or null when it is not one. */
export function dhcpRequest(frame: Buffer): { type: number; xid: number; flags: number; chaddr: Buffer } | null {
  if (frame.length < ETH_HEADER + 20 + 8 + BOOTP_FIXED + 4 || etherType(frame) !== ETHERTYPE_IPV4) return null
  const ip = ETH_HEADER
  const ihl = (frame[ip] & 0x0f) * 4
  if (frame[ip] >> 4 !== 4 || ihl < 20 || frame[ip + 9] !== 17) return null
  const udp = ip + ihl
  if (frame.length < udp + 8 + BOOTP_FIXED + 4) return null
  if (frame.readUInt16BE(udp) !== 68 || frame.readUInt16BE(udp + 2) !== 67) return null
  const b = udp + 8
  if (frame[b] !== 1 || frame.readUInt32BE(b + BOOTP_FIXED) !== COOKIE) return null
  // Options: code, length, value; 0 pads, 255 ends.
  let o = b + BOOTP_FIXED + 4
  while (o < frame.length) {
    const code = frame[o]
    if (code === 255) break
    if (code === 0) {
      o++
      continue
    }
    if (o + 1 >= frame.length) return null
    const len = frame[o + 1]
    if (code === 53 && len === 1 && o + 2 < frame.length) {
      return {
        type: frame[o + 2],
        xid: frame.readUInt32BE(b + 4),
        flags: frame.readUInt16BE(b + 10),
        chaddr: Buffer.from(frame.subarray(b + 28, b + 44)),
      }
    }
    o += 2 + len
  }
  return null
}

const DISCOVER = 1
const REQUEST = 3
const OFFER = 2
const ACK = 5

/** The reply frame to a client's DISCOVER (OFFER) or REQUEST (ACK), or null for other types. */
export function dhcpReply(frame: Buffer, clientMac: string, lease: Lease): Buffer | null {
  const req = dhcpRequest(frame)
  if (!req || (req.type !== DISCOVER && req.type !== REQUEST)) return null
  const server = ipToInt(gatewayOf(lease.address, lease.prefix))
  const opts: number[] = [53, 1, req.type === DISCOVER ? OFFER : ACK]
  const u32 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
  opts.push(54, 4, ...u32(server))
  opts.push(51, 4, ...u32(LEASE_S))
  opts.push(1, 4, ...u32(maskOf(lease.prefix)))
  if (lease.router) opts.push(3, 4, ...u32(ipToInt(lease.router)))
  opts.push(255)
  const bootp = Buffer.alloc(Math.max(300, BOOTP_FIXED + 4 + opts.length))
  bootp[0] = 2 // BOOTREPLY
  bootp[1] = 1
  bootp[2] = 6
  bootp.writeUInt32BE(req.xid, 4)
  bootp.writeUInt16BE(req.flags, 10)
  bootp.writeUInt32BE(ipToInt(lease.address), 16) // yiaddr
  bootp.writeUInt32BE(server, 20) // siaddr
  req.chaddr.copy(bootp, 28)
  bootp.writeUInt32BE(COOKIE, BOOTP_FIXED)
  Buffer.from(opts).copy(bootp, BOOTP_FIXED + 4)
  return ipv4Udp(clientMac, server, 0xffffffff, 67, 68, bootp)
}

/** An Ethernet + IPv4 + UDP frame from the switch; UDP checksum 0 (allowed over IPv4). */
function ipv4Udp(dst: string, src: number, to: number, sport: number, dport: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(ETH_HEADER + 20 + 8 + payload.length)
  macBytes(dst).copy(f, 0)
  macBytes(SWITCH_MAC).copy(f, 6)
  f.writeUInt16BE(ETHERTYPE_IPV4, 12)
  const ip = ETH_HEADER
  f[ip] = 0x45
  f.writeUInt16BE(20 + 8 + payload.length, ip + 2)
  f[ip + 8] = 64
  f[ip + 9] = 17
  f.writeUInt32BE(src, ip + 12)
  f.writeUInt32BE(to >>> 0, ip + 16)
  f.writeUInt16BE(checksum(f.subarray(ip, ip + 20)), ip + 10)
  const udp = ip + 20
  f.writeUInt16BE(sport, udp)
  f.writeUInt16BE(dport, udp + 2)
  f.writeUInt16BE(8 + payload.length, udp + 4)
  payload.copy(f, udp + 8)
  return f
}

export function checksum(b: Uint8Array): number {
  let sum = 0
  for (let i = 0; i + 1 < b.length; i += 2) sum += (b[i] << 8) | b[i + 1]
  if (b.length & 1) sum += b[b.length - 1] << 8
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return ~sum & 0xffff
}
