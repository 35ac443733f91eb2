// What the host offers (report: providers advertise bogomips, memory and storage).
import { readFile } from 'node:fs/promises'
import { totalmem } from 'node:os'

export interface CpuInfo {
  processor: string
  cpus: number
  /** Sum over all processors. */
  bogomips: number
  /** One processor's bogomips (speed shares are fractions of this). */
  perCpu: number
}

export async function cpuInfo(): Promise<CpuInfo> {
  const text = await readFile('/proc/cpuinfo', 'utf8').catch(() => '')
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b))
  const field = (b: string, name: string): string | undefined =>
    new RegExp(`^${name}\\s*:\\s*(.*)$`, 'mi').exec(b)?.[1]?.trim()
  const mips = blocks.map((b) => Number(field(b, 'bogomips') ?? 0)).filter((n) => n > 0)
  const cpus = Math.max(1, blocks.length)
  const total = Math.round(mips.reduce((a, b) => a + b, 0))
  return {
    processor: (blocks[0] && field(blocks[0], 'model name')) ?? 'unknown',
    cpus,
    bogomips: total,
    perCpu: mips.length ? total / mips.length : 0,
  }
}

export function memoryMb(): number {
  return Math.floor(totalmem() / 1048576)
}
