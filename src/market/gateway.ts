// How the market reaches provider nodes. The hub implements it over control@1; tests use an
// in-memory double. The market never talks to the network itself.
//
// Commands the market sends (params -> result):
//   'vm.create'  {vmId, config: {memory, hd, speed, os}, version, image?: {digest}} -> {version}
//                (with an image, the disk starts as a copy of the cached image; see delivery.ts)
//   'image.fetch' {vmId, hd, name, digest, size, sources: ('hub' | node key)[]} -> {bytes}
//   'image.import' {file} -> {digest, size}       (a provider publishes a file on its node)
//   'vm.start' | 'vm.resume'  {vmId, version} -> {version}
//   'vm.stop'  | 'vm.suspend' {vmId, version} -> {version}
//   'vm.delete' {vmId} -> {}
// `version` is the hub's version of the machine BEFORE the action; the provider checks its own copy
// equals it, acts, and answers its version AFTER the action. Per report §6.2.3/§7.1.5 create
// (register), stop and suspend raise it by one, start and resume do not: the hub refuses the result
// (MARKET_VERSION_MISMATCH) unless the answer equals its own new version.
export interface ProviderGateway {
  /** `timeoutMs` overrides the hub's command timeout (an image delivery runs as long as it moves bytes). */
  command(nodeKey: string, method: string, params: object, opts?: { timeoutMs?: number }): Promise<any>
  online(nodeKey: string): boolean
  /** The address the node's connection came from, as the hub saw it (not what the node says), if known. */
  observedHost?(nodeKey: string): string | null
}

/** Version a command leaves the machine at, given the version before it. */
export function versionAfter(method: string, before: number): number {
  return method === 'vm.create' || method === 'vm.stop' || method === 'vm.suspend' ? before + 1 : before
}
