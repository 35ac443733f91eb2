// Shared by the console tests: a test-driver Hypervisor with one running machine, and a viewer that
// records what it is sent.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { CloseReason, ConsoleViewer } from '../../src/console/screens.ts'

export const CONFIG = { memory: 128, hd: 2048, speed: 1000, os: 'linux' }

export async function testHv(
  ids: string[] = ['vm1'],
): Promise<{ hv: Hypervisor; dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-console-'))
  const hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  for (const id of ids) {
    await hv.create(id, CONFIG)
    await hv.register(id)
  }
  return {
    hv,
    dir,
    async cleanup() {
      await hv.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export class RecordingViewer implements ConsoleViewer {
  out = ''
  reason: CloseReason | null = null
  private waiters = new Set<() => void>()
  write(data: Buffer | string): void {
    this.out += data.toString()
    this.wake()
  }
  close(reason: CloseReason): void {
    this.reason = reason
    this.wake()
  }
  private wake(): void {
    for (const w of this.waiters) w()
  }
  until(pred: (v: this) => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred(this)) {
          this.waiters.delete(check)
          clearTimeout(t)
          resolve()
        }
      }
      const t = setTimeout(() => {
        this.waiters.delete(check)
        reject(
          new Error(
            `viewer: condition not met; out=${JSON.stringify(this.out.slice(-300))} reason=${JSON.stringify(this.reason)}`,
          ),
        )
      }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }
}

export function waitFor(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now()
    const tick = () => {
      if (pred()) return resolve()
      if (Date.now() - start > timeoutMs) return reject(new Error(`timed out waiting for ${what}`))
      setTimeout(tick, 10)
    }
    tick()
  })
}
