// Test frames: a guest's DHCP request, built as busybox udhcpc sends it.
import { ETH_HEADER, macBytes } from '../../src/vnet/frame.ts'

/** A DHCP DISCOVER (1) or REQUEST (3) as udhcpc sends it. */
export function dhcpRequestFrame(mac: string, type: number): Buffer {
  const bootp = Buffer.alloc(300)
  bootp[0] = 1
  bootp[1] = 1
  bootp[2] = 6
  bootp.writeUInt32BE(0x1234abcd, 4)
  macBytes(mac).copy(bootp, 28)
  bootp.writeUInt32BE(0x63825363, 236)
  Buffer.from([53, 1, type, 255]).copy(bootp, 240)
  const f = Buffer.alloc(ETH_HEADER + 28 + bootp.length)
  f.fill(0xff, 0, 6)
  macBytes(mac).copy(f, 6)
  f.writeUInt16BE(0x0800, 12)
  f[ETH_HEADER] = 0x45
  f[ETH_HEADER + 9] = 17
  f.writeUInt16BE(68, ETH_HEADER + 20)
  f.writeUInt16BE(67, ETH_HEADER + 22)
  bootp.copy(f, ETH_HEADER + 28)
  return f
}
