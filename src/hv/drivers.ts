// The driver table (libvirt style): a name picks a built-in driver, loaded only when asked for (the
// QEMU driver's dependencies stay out of a process that runs the test driver); an object that
// implements HvDriver is used as it is.
import type { HvDriver } from './types.ts'
import type { TestDriverOptions } from './test/driver.ts'
import type { QemuDriverOptions } from './qemu/driver.ts'
import { badInput } from './errors.ts'

export type Accel = 'auto' | 'kvm' | 'tcg'

export interface DriverChoice {
  driver: 'test' | 'qemu' | HvDriver
  accel?: Accel
  /** Options of the built-in drivers. */
  qemu?: Omit<QemuDriverOptions, 'accel'>
  test?: TestDriverOptions
}

export async function makeDriver(opts: DriverChoice): Promise<HvDriver> {
  const d = opts.driver
  if (d === 'test') {
    const { TestDriver } = await import('./test/driver.ts')
    return new TestDriver(opts.test)
  }
  if (d === 'qemu') {
    const { QemuDriver } = await import('./qemu/driver.ts')
    return new QemuDriver({ ...opts.qemu, accel: opts.accel ?? 'auto' })
  }
  if (d && typeof d === 'object' && typeof d.open === 'function' && d.manifest) return d
  throw badInput(
    'driver',
    `${JSON.stringify(d)} is not a known driver`,
    "use 'qemu', 'test' or an object implementing HvDriver",
  )
}
