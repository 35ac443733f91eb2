// Placeholder until the QEMU driver lands (same commit series).
import { HvError, HV_NOT_SUPPORTED } from '../errors.ts'
import type { HvDriver } from '../types.ts'
export interface QemuDriverOptions { accel?: 'auto' | 'kvm' | 'tcg' }
export class QemuDriver {
  constructor(_opts: QemuDriverOptions = {}) {
    throw new HvError(HV_NOT_SUPPORTED, 'The qemu driver is not built yet; use the test driver for now.')
  }
}
export type _Check = HvDriver
