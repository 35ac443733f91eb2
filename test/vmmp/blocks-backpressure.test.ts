// blocks@1 heeds backpressure (issue 11, item 5): a destination that asks for blocks and stops reading
// the answers makes the origin read and buffer a bounded amount (reply-queue.ts), not every block it
// asked for; when it reads again every answer arrives, intact. The real serveBlocks, BlocksClient
// and protomux, over a stream pair whose reading end the test stops (test/hub/pipe-pair.ts).
import { afterAll, beforeAll, expect, it } from 'vitest'
import Protomux from 'protomux'
import type { Duplex as NodeDuplex } from 'node:stream'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { BlocksClient, serveBlocks, MAX_BLOCKS_PER_REQUEST } from '../../src/vmmp/blocks.ts'
import { BLOCK_SIZE } from '../../src/vmmp/manifest.ts'
import { pipePair } from '../hub/pipe-pair.ts'

let dir: string
const disk = randomBytes(MAX_BLOCKS_PER_REQUEST * BLOCK_SIZE)
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-bp-'))
  await writeFile(join(dir, 'disk.raw'), disk)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

it('a destination that stops reading bounds what the origin reads and buffers; every answer arrives later', async () => {
  const [originEnd, destEnd] = pipePair()
  let reads = 0
  serveBlocks(Protomux.from(originEnd as unknown as NodeDuplex), {
    authorize: () => ({ vmId: 'vm-1', dir, files: ['disk.raw'], version: 1 }),
    mutateBlock: () => void reads++,
  })
  const client = await BlocksClient.open(Protomux.from(destEnd as unknown as NodeDuplex), 'mig-1')
  destEnd.pause() // the destination stops reading
  const asks = 200
  const answers = Array.from({ length: asks }, () => client.blocks(0, 0, MAX_BLOCKS_PER_REQUEST))
  // Let the origin do all it will do: until its reads stop moving for a while (bounded).
  let last = -1
  for (let still = 0, t = 0; still < 30; t++) {
    if (t > 2000) throw new Error('the origin never stopped reading')
    still = reads === last ? still + 1 : 0
    last = reads
    await new Promise((r) => setTimeout(r, 10))
  }
  const asked = asks * MAX_BLOCKS_PER_REQUEST * BLOCK_SIZE // 200 MiB
  const read = reads * BLOCK_SIZE
  expect(read).toBeLessThan(asked / 10)
  expect(originEnd.buffered).toBeLessThan(16 * 1024 * 1024)

  destEnd.resume()
  const got = await Promise.all(answers)
  expect(got.every((b) => b.equals(disk))).toBe(true)
  expect(reads).toBe(asks * MAX_BLOCKS_PER_REQUEST)
  client.close()
})
