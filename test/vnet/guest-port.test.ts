// A guest's card on the switch when QEMU's socket is not there yet (or not where it was looked for): the
// port keeps dialing, says once in the log that the socket does not answer, and says when it connects;
// from then on frames flow. A real unix socket stands in for QEMU's -netdev stream server.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GuestPort } from '../../src/vnet/guest-port.ts'
import { Switch } from '../../src/vnet/switch.ts'
import { StreamDecoder, encodeStream } from '../../src/vnet/frame.ts'
import { dhcpRequestFrame } from './dhcp-frames.ts'

const MAC_A = '02:00:00:00:00:0a'

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('GuestPort', () => {
  it('says once that the card socket does not answer, keeps dialing, and carries frames once it does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-guest-port-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const path = join(dir, 'net.sock')
    const lines: string[] = []
    let onLine = () => {}
    const sw = new Switch()
    const lease = { address: '10.42.0.2', prefix: 24 }
    const port = new GuestPort(sw, { id: 'vm1', net: 'n1', mac: MAC_A, lease }, path, {
      log: (l) => {
        lines.push(l)
        onLine()
      },
      warnAfterMs: 300,
    })
    cleanups.push(() => port.close())
    const nextLine = () => new Promise<void>((r) => (onLine = r))
    await nextLine()
    expect(lines).toEqual([expect.stringMatching(/machine vm1: .*net\.sock does not answer \(ENOENT\).*still trying/)])
    expect(sw.has('vm1')).toBe(false)

    // QEMU's socket appears: the port connects, says so, and the switch answers the guest's DHCP on it.
    const server: Server = createServer()
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    const qemu = new Promise<Socket>((r) => server.once('connection', r))
    const connectedLine = nextLine()
    server.listen(path)
    const conn = await qemu
    cleanups.push(() => void conn.destroy())
    await port.connected
    await connectedLine
    expect(lines.slice(1)).toEqual([`machine vm1: network card connected at ${path}`])
    const reply = new Promise<Buffer>((r) => {
      const dec = new StreamDecoder(r)
      conn.on('data', (b: Buffer) => dec.push(b))
    })
    conn.write(encodeStream(dhcpRequestFrame(MAC_A, 1)))
    expect((await reply).subarray(0, 6).toString('hex')).toBe(MAC_A.replaceAll(':', ''))
    expect(lines).toHaveLength(2)
  })
})
