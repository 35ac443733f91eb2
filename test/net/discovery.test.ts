// Topics on a loopback testnet: a node announces a topic with the key pair it serves, another
// finds its key and dials it; after stop the record is gone; topics of different kinds differ.
import { afterAll, beforeAll, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { announce, lookup } from '../../src/net/discovery.ts'
import { imageTopic, marketTopic, networkTopic } from '../../src/net/topics.ts'
import { startNode } from '../../src/cli/node.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
beforeAll(async () => {
  testnet = await createTestnet(3)
})
afterAll(async () => {
  await testnet.destroy()
})

it('names each kind of topic apart', () => {
  const key = DHT.keyPair().publicKey
  const topics = [marketTopic(key), imageTopic(key.toString('hex')), networkTopic(key.toString('hex'))]
  expect(new Set(topics.map((t) => t.toString('hex'))).size).toBe(3)
  expect(topics.every((t) => t.length === 32 && !t.equals(key))).toBe(true)
  expect(imageTopic('sha256:ab').equals(imageTopic('sha256:ab'))).toBe(true)
})

it('finds the key a node announces on a topic, dials it, and loses it after stop', async () => {
  const server = testnet.createNode()
  const keyPair = DHT.keyPair()
  const s = server.createServer((socket) => {
    socket.on('error', () => {})
    socket.end('hello')
  })
  await s.listen(keyPair)
  const topic = imageTopic('sha256:' + 'ab'.repeat(32))
  const ann = announce(server, topic, keyPair)
  await ann.ready
  const client = testnet.createNode()
  const found = await lookup(client, topic)
  expect(found.map((k) => k.toString('hex'))).toEqual([keyPair.publicKey.toString('hex')])
  const socket = client.connect(found[0])
  const [greeting] = await new Promise<Buffer[]>((resolve, reject) => {
    socket.once('data', (b: Buffer) => resolve([b]))
    socket.once('error', reject)
  })
  expect(greeting.toString()).toBe('hello')
  socket.on('error', () => {})
  socket.destroy()
  await ann.stop()
  expect(await lookup(client, topic)).toEqual([])
  expect(await lookup(client, imageTopic('sha256:other'))).toEqual([])
  await s.close()
})

it('a hub is found on its market topic', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-discovery-'))
  const hub = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: dir,
    bootstrap: testnet.bootstrap,
    hub: true,
    hv: 'test',
    dht: testnet.createNode(),
  })
  try {
    const market = Buffer.from(hub.key, 'hex')
    const client = testnet.createNode()
    let found: Buffer[] = []
    // The hub announces in the background after it starts: look until the record is there.
    while (!found.length) found = await lookup(client, marketTopic(market))
    expect(found.map((k) => k.toString('hex'))).toEqual([hub.key])
  } finally {
    await hub.close()
    await rm(dir, { recursive: true, force: true })
  }
})
