// Manifests computed when a machine comes to rest: kept per version, read by the next OPEN instead of
// hashing; a machine gone meanwhile is logged, not thrown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashFile, loadCachedEntries, manifestPath } from '../../src/vmmp/manifest.ts'
import { ManifestWarmer } from '../../src/vmmp/warm-manifests.ts'
import { makeImage } from './helpers.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-warm-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('ManifestWarmer', () => {
  it('hashes a machine at rest in the background and keeps the manifest of that version', async () => {
    await makeImage(join(dir, 'disk-flat.vmdk'), 8 * 1024 * 1024, 0.2)
    const lines: string[] = []
    const w = new ManifestWarmer((l) => lines.push(l))
    w.schedule('vm-1', dir, async () => ['disk-flat.vmdk'], 3)
    await w.ready('vm-1')
    expect((await stat(manifestPath(dir, 3))).isFile()).toBe(true)
    const cached = await loadCachedEntries(dir)
    expect(cached.get('disk-flat.vmdk')?.root).toBe((await hashFile(join(dir, 'disk-flat.vmdk'), 'x')).root)
    expect(lines.join('\n')).toMatch(/manifest of vm-1 at version 3 ready/)
  })

  it('logs a machine whose files are gone instead of throwing, and the next one still runs', async () => {
    const lines: string[] = []
    const w = new ManifestWarmer((l) => lines.push(l))
    w.schedule('vm-gone', join(dir, 'nope'), async () => ['disk-flat.vmdk'], 1)
    w.schedule('vm-1', dir, async () => ['disk-flat.vmdk'], 4)
    await w.ready('vm-gone')
    await w.ready('vm-1')
    expect(lines.join('\n')).toMatch(/no manifest of vm-gone at version 1 ahead of time/)
    expect((await stat(manifestPath(dir, 4))).isFile()).toBe(true)
  })
})
