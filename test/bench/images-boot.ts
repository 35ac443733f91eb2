// Time to a shell on the serial console through the whole CLI: `virtuoso start VMID --console` on a
// machine whose disk came from a catalog image, until a command typed there answers (the busybox
// prompt of `linux`, root's autologin shell of `debian-12`, both after the login prompt), beside bare
// qemu-system-x86_64 booting the same image file from a raw disk (hv-bench.ts), in the same run.
import { spawnVirtuoso } from '../../src/cli/child.ts'
import { bare } from './hv-bench.ts'

/** Types a command until its output arrives: keys typed while the guest is still booting are dropped. */
export async function startToShell(vm: string, env: Record<string, string>): Promise<number> {
  const t = performance.now()
  const p = spawnVirtuoso(['start', vm, '--console'], { env })
  try {
    for (let i = 0; ; i++) {
      if (i > 600) throw new Error(`no shell on ${vm}'s console: ${p.lines.join('\n').slice(-400)}`)
      p.proc.stdin?.write('echo "boot""-ok"\r')
      const ok = await p.waitFor(/boot-ok/, 1000).then(
        () => true,
        () => false,
      )
      if (ok) break
    }
    const ms = performance.now() - t
    p.proc.stdin?.write(Buffer.from([0x1d])) // Ctrl-] detaches, the machine keeps running
    await p.proc
    return ms
  } finally {
    await p.stop()
  }
}

export async function bareToShell(os: string, memory: number): Promise<number> {
  return (await bare(os, memory, true)).boot
}
