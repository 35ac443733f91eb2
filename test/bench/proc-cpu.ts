// CPU time of processes from /proc/PID/stat, for benchmarks that compare what two set-ups cost the
// machine, not only how long they took: on 2 shared cores the wall time swings with other work, the
// CPU a process spent much less.
import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/PID/stat's times (getconf CLK_TCK is 100 on Linux x86-64). */
const TICKS = 100

/** CPU time (user + system, ms) a process used so far; 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS
  } catch {
    return 0
  }
}
