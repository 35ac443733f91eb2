// Errors of the hypervisor layer. Every message is one line a provider can act on: what failed, why,
// and what to do. Tests and clients match `code`, never the message.
import { VirtuosoError } from '../errors.ts'

export const HV_NOT_SUPPORTED = 'HV_NOT_SUPPORTED'
export const HV_NOT_FOUND = 'HV_NOT_FOUND'
export const HV_EXISTS = 'HV_EXISTS'
export const HV_BAD_STATE = 'HV_BAD_STATE'
export const HV_BAD_INPUT = 'HV_BAD_INPUT'
export const HV_NO_SPACE = 'HV_NO_SPACE'
export const HV_QEMU_MISSING = 'HV_QEMU_MISSING'
export const HV_TIMEOUT = 'HV_TIMEOUT'
export const HV_QMP = 'HV_QMP'
export const HV_IMAGE_MISSING = 'HV_IMAGE_MISSING'
export const HV_CLOSED = 'HV_CLOSED'
export const HV_VMM_FAILED = 'HV_VMM_FAILED'
export const HV_STATE_MISSING = 'HV_STATE_MISSING'

export type HvErrorCode =
  | typeof HV_NOT_SUPPORTED
  | typeof HV_NOT_FOUND
  | typeof HV_EXISTS
  | typeof HV_BAD_STATE
  | typeof HV_BAD_INPUT
  | typeof HV_NO_SPACE
  | typeof HV_QEMU_MISSING
  | typeof HV_TIMEOUT
  | typeof HV_QMP
  | typeof HV_IMAGE_MISSING
  | typeof HV_CLOSED
  | typeof HV_VMM_FAILED
  | typeof HV_STATE_MISSING

export class HvError extends VirtuosoError {
  constructor(code: HvErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'HvError'
  }
}

export function notSupported(driver: string, verb: string): HvError {
  return new HvError(
    HV_NOT_SUPPORTED,
    `Cannot ${verb}: the '${driver}' hypervisor driver does not support it; use a driver whose manifest lists ` +
      `'${verb}'.`,
  )
}

export function notFound(id: string): HvError {
  return new HvError(HV_NOT_FOUND, `No machine '${id}' on this provider; check the id with 'virtuoso machines'.`)
}

export function exists(id: string): HvError {
  return new HvError(
    HV_EXISTS,
    `Cannot create machine '${id}': a machine with that id already exists here; delete it first or pick another id.`,
  )
}

export function badState(id: string, verb: string, state: string, allowed: readonly string[]): HvError {
  return new HvError(
    HV_BAD_STATE,
    `Cannot ${verb} machine '${id}': it is ${state}, and ${verb} needs it ${allowed.join(' or ')}.`,
  )
}

export function badInput(what: string, why: string, todo: string): HvError {
  return new HvError(HV_BAD_INPUT, `Invalid ${what}: ${why}; ${todo}.`)
}

export function noSpace(id: string, needMb: number, freeMb: number, dir: string): HvError {
  return new HvError(
    HV_NO_SPACE,
    `Cannot create the disk of machine '${id}': it needs ${needMb} MB but only ${freeMb} MB are free in ${dir}; ` +
      `free some space or ask for a smaller disk.`,
  )
}

export function closed(): HvError {
  return new HvError(HV_CLOSED, 'The hypervisor layer is closed; open a new Hypervisor to manage machines.')
}
