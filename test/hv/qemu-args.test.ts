// The QEMU command line's install-media part: an ISO becomes a read-only IDE CD-ROM, booted first
// while it is attached (the installer); without media there is no CD-ROM and no boot order.
import { describe, expect, it } from 'vitest'
import { qemuArgs } from '../../src/hv/qemu/args.ts'

const base = { id: 'vm1', dir: '/m/vm1', sockDir: '/m/vm1', memory: 128, accel: 'tcg' as const, seed: false }
const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag)

describe('qemuArgs media', () => {
  it('attaches the ISO as a CD-ROM and boots it first', () => {
    const args = qemuArgs({ ...base, media: '/data/media/ab,c/image.raw' })
    expect(after(args, '-drive')).toContain(
      'if=ide,index=2,media=cdrom,readonly=on,format=raw,file=/data/media/ab,,c/image.raw',
    )
    expect(after(args, '-boot')).toEqual(['order=dc'])
  })
  it('no media, no CD-ROM and no boot order', () => {
    expect(qemuArgs(base).join(' ')).not.toMatch(/cdrom|-boot/)
  })
})
