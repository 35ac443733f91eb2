// Errors of the buyers' networks: memberships, the hub's join answer, the provider's switch and
// tunnel@1. Each code is named here once and thrown only by this room as a VnetError; a lower layer's
// error travels as `cause`. Code values are what clients and tests match (`--json` prints them).
import { VirtuosoError } from '../errors.ts'

export const VNET_BAD_INPUT = 'VNET_BAD_INPUT'
export const VNET_NOT_MEMBER = 'VNET_NOT_MEMBER'
export const VNET_MEMBERSHIP_INVALID = 'VNET_MEMBERSHIP_INVALID'
/** The provider has no switch port for a machine (it is not running here, or has no network card). */
export const VNET_NO_PORT = 'VNET_NO_PORT'
/** The provider has no control@1 connection to its hub yet, so it cannot ask for a membership. */
export const VNET_NO_HUB = 'VNET_NO_HUB'
export const VNET_TUNNEL_UNAUTHORIZED = 'VNET_TUNNEL_UNAUTHORIZED'
export const VNET_TUNNEL_NO_CONSOLE = 'VNET_TUNNEL_NO_CONSOLE'
export const VNET_TUNNEL_BUSY = 'VNET_TUNNEL_BUSY'
export const VNET_TUNNEL_UNREACHABLE = 'VNET_TUNNEL_UNREACHABLE'
export const VNET_TUNNEL_BAD_INPUT = 'VNET_TUNNEL_BAD_INPUT'
/** A tunnel or one of its streams ended without a reason from the provider. */
export const VNET_TUNNEL_CLOSED = 'VNET_TUNNEL_CLOSED'

export type VnetCode =
  | typeof VNET_BAD_INPUT
  | typeof VNET_NOT_MEMBER
  | typeof VNET_MEMBERSHIP_INVALID
  | typeof VNET_NO_PORT
  | typeof VNET_NO_HUB
  | typeof VNET_TUNNEL_UNAUTHORIZED
  | typeof VNET_TUNNEL_NO_CONSOLE
  | typeof VNET_TUNNEL_BUSY
  | typeof VNET_TUNNEL_UNREACHABLE
  | typeof VNET_TUNNEL_BAD_INPUT
  | typeof VNET_TUNNEL_CLOSED

export class VnetError extends VirtuosoError {
  constructor(code: VnetCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'VnetError'
  }
}
