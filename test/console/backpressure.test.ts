// console@1 heeds backpressure (issue 11, item 5): a viewer that stops reading does not make the
// provider buffer the guest's output without bound. The serial screen stops sending once the
// connection is full, and when the viewer reads again it is repainted from the screen (the bytes
// it missed are not replayed) and live output follows. The real ConsoleServer, screens and protomux,
// over a stream pair whose reading end the test stops (test/net/pipe-pair.ts).
import { afterAll, beforeAll, expect, it } from 'vitest'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import type { NoiseSocket } from 'hyperdht'
import type { Duplex as NodeDuplex } from 'node:stream'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsoleServer } from '../../src/console/server.ts'
import { signTicket } from '../../src/console/ticket.ts'
import { openConsoleChannel } from '../../src/console/wire.ts'
import { pipePair } from '../hub/pipe-pair.ts'
import { testHv, waitFor } from './helpers.ts'

let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let server: ConsoleServer
const hub = DHT.keyPair()
const provider = DHT.keyPair()
const viewer = DHT.keyPair()

beforeAll(async () => {
  env = await testHv(['vm1'])
  await env.hv.start('vm1')
  screens = new ConsoleScreens(env.hv)
  server = new ConsoleServer({ dht: null as never, keyPair: provider, hubKey: hub.publicKey, screens })
})
afterAll(async () => {
  screens.close()
  await env.cleanup()
})

it('a viewer that stops reading bounds what the provider buffers; it is repainted when it reads again', async () => {
  const [providerEnd, viewerEnd] = pipePair()
  Object.assign(providerEnd, { remotePublicKey: viewer.publicKey, setKeepAlive: () => {} })
  let most = 0
  const write = providerEnd.write.bind(providerEnd)
  providerEnd.write = ((data: Buffer) => {
    const r = write(data)
    most = Math.max(most, providerEnd.buffered)
    return r
  }) as typeof providerEnd.write
  ;(server as unknown as { onConnection(s: NoiseSocket): void }).onConnection(providerEnd as unknown as NoiseSocket)

  let out = ''
  let attached = false
  const wire = openConsoleChannel(Protomux.from(viewerEnd as unknown as NodeDuplex), {
    ctl: (m) => void (attached ||= m.t === 'attached'),
    data: (b) => void (out += b.toString()),
    close: () => {},
    tooLarge: () => {},
  })
  await wire.opened
  const ticket = signTicket(hub.secretKey, {
    vmId: 'vm1',
    nodeKey: provider.publicKey.toString('hex'),
    pmId: null,
    user: 'alice',
    clientKey: viewer.publicKey.toString('hex'),
  }).ticket
  wire.sendCtl({ t: 'attach', ticket, cols: 80, rows: 24 })
  await waitFor(() => attached && out.includes('/ # '), 5000, 'the attach and its repaint')

  viewerEnd.pause() // the viewer stops reading
  const line = 'x'.repeat(4000)
  const commands = 200
  for (let i = 0; i < commands; i++) wire.sendData(`echo ${line}\r`)
  wire.sendData('echo DONE-MARK\r')
  const screen = await screens.get('vm1')
  // The guest has run every command once its screen shows the last one's output.
  for (let t = 0; !(await screen.snapshot()).includes('DONE-MARK'); t++) {
    if (t > 3000) throw new Error('the guest never ran every command')
    await new Promise((r) => setTimeout(r, 10))
  }
  const produced = commands * 2 * line.length // each line is echoed as typed, then printed
  expect(produced).toBeGreaterThan(1_500_000)
  expect(most).toBeLessThan(256 * 1024) // the provider's send buffer stayed small
  const before = out.length

  viewerEnd.resume()
  await waitFor(() => out.slice(before).includes('DONE-MARK'), 10_000, 'the repaint after draining')
  expect(out.length - before).toBeLessThan(produced / 4) // a repaint, not a replay of what was missed
  const after = out.length
  wire.sendData('echo still-live\r')
  await waitFor(() => /\r\nstill-live\r\n/.test(out.slice(after)), 5000, 'live output after the repaint')
  wire.close()
})
