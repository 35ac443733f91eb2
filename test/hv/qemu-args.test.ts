// The QEMU command line: an ISO becomes a read-only IDE CD-ROM, booted first while it is attached (the
// installer); every unix socket QEMU listens on is an absolute path in the socket directory, because
// with -daemonize QEMU moves to / at the end of its start-up and its stream netdev may bind after that.
import { describe, expect, it } from 'vitest'
import { NBD_SOCK, NIC_SOCK, QMP_SOCK, SERIAL_SOCK, VNC_SOCK, qemuArgs } from '../../src/hv/qemu/args.ts'

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

describe('qemuArgs sockets', () => {
  /** The socket paths of a command line, by option (QEMU's doubled commas kept). */
  const sockets = (args: string[]) => ({
    vnc: /^unix:(.*)$/.exec(after(args, '-vnc')[0])?.[1],
    qmp: /^unix:((?:[^,]|,,)*),/.exec(after(args, '-qmp')[0])?.[1],
    serial: /(?:^|,)path=((?:[^,]|,,)*)/.exec(after(args, '-chardev')[0])?.[1],
    nbd: /file\.server\.path=((?:[^,]|,,)*)/.exec(after(args, '-drive')[0])?.[1],
    nic: /addr\.path=((?:[^,]|,,)*)/.exec(after(args, '-netdev')[0])?.[1],
  })

  it('are absolute paths in the socket directory, where the driver dials them', () => {
    const args = qemuArgs({
      ...base,
      dir: '/a/long/machine/dir/vm1',
      sockDir: '/tmp/v-0/hv-1',
      mac: '02:00:00:00:00:01',
    })
    expect(sockets(args)).toEqual({
      vnc: `/tmp/v-0/hv-1/${VNC_SOCK}`,
      qmp: `/tmp/v-0/hv-1/${QMP_SOCK}`,
      serial: `/tmp/v-0/hv-1/${SERIAL_SOCK}`,
      nbd: `/tmp/v-0/hv-1/${NBD_SOCK}`,
      nic: `/tmp/v-0/hv-1/${NIC_SOCK}`,
    })
  })

  it('double the commas of a socket directory', () => {
    const args = qemuArgs({ ...base, sockDir: '/m/a,b', mac: '02:00:00:00:00:01' })
    for (const path of Object.values(sockets(args))) expect(path).toMatch(/^\/m\/a,,b\/[a-z]+\.sock$/)
  })
})
