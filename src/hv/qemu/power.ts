// What the QEMU driver asks of a machine's running QEMU over QMP: power it off, save its state for a
// suspend, read its run state. Each opens the monitor, asks, and closes it again; the driver keeps no
// monitor open between calls (a restarted agent has none to reuse).
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { Monitor } from './monitor.ts'
import { alive, readPid, terminate, waitGone } from './proc.ts'
import { QEMU_PID, SAVED_STATE } from './args.ts'

type OpenMonitor = () => Promise<Monitor>

/** Ends the machine's QEMU, if it runs: the ACPI power button first, then `quit`, then the process. */
export async function powerOff(dir: string, monitor: OpenMonitor, timeoutMs: number): Promise<void> {
  const pid = await readPid(join(dir, QEMU_PID))
  if (!(await alive(pid, dir))) return
  const mon = await monitor().catch(() => null)
  try {
    // A guest that ignores the button gets `quit` (the report's "answers yes to everything").
    await mon?.powerdown().catch(() => {})
    if (!(await waitGone(pid!, timeoutMs, dir))) await mon?.quit().catch(() => {})
  } finally {
    mon?.close()
  }
  await terminate(pid, dir, 5000)
}

/** Saves the running machine's state to `SAVED_STATE` and ends its QEMU (the caller checked it runs). */
export async function saveState(dir: string, monitor: OpenMonitor, stateTimeoutMs: number): Promise<void> {
  const pid = await readPid(join(dir, QEMU_PID))
  // Written beside the final name and renamed once QEMU is gone, so a half-written state never counts.
  const tmp = join(dir, `${SAVED_STATE}.tmp`)
  await rm(tmp, { force: true })
  const mon = await monitor()
  try {
    await mon.saveState(tmp, { timeoutMs: stateTimeoutMs })
    await mon.quit()
  } catch (err) {
    // The guest stays paused in QEMU: stop or suspend again both work from there.
    await rm(tmp, { force: true })
    throw err
  } finally {
    mon.close()
  }
  await terminate(pid, dir, 5000)
  await rename(tmp, join(dir, SAVED_STATE))
}

/** The machine's run state; a QEMU that does not answer its monitor in time counts as running. */
export async function runState(dir: string, monitor: OpenMonitor): Promise<'running' | 'paused' | 'off'> {
  if (!(await alive(await readPid(join(dir, QEMU_PID)), dir))) return 'off'
  const mon = await monitor().catch(() => null)
  if (!mon) return 'running'
  try {
    return (await mon.status()) === 'running' ? 'running' : 'paused'
  } catch {
    return 'running'
  } finally {
    mon.close()
  }
}
