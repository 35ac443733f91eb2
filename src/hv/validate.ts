// What the hypervisor layer accepts from above: machine ids, configurations (sizes, OS, network
// card), guest set-up and versions. One clear HV_BAD_INPUT line for anything else.
import type { GuestSetup, VmConfig } from './types.ts'
import { checkDiskSize } from './disk.ts'
import { badInput } from './errors.ts'

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/
export const MIN_MEMORY_MB = 16
export const MAX_MEMORY_MB = 1024 * 1024
export const OS_PATTERN = /^[a-z0-9][a-z0-9._-]{0,31}$/

export function checkVmId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    throw badInput(
      'machine id',
      `${JSON.stringify(id)} must be 1-64 letters, digits, '-' or '_', starting with a letter or digit`,
      'use the id the market issued (e.g. a UUID)',
    )
  }
}

export function checkVmConfig(c: unknown): asserts c is VmConfig {
  if (!c || typeof c !== 'object')
    throw badInput('machine configuration', 'none was given', 'pass { memory, hd, speed, os }')
  const { memory, hd, speed, os } = c as Record<string, unknown>
  if (typeof memory !== 'number' || !Number.isInteger(memory) || memory < MIN_MEMORY_MB || memory > MAX_MEMORY_MB) {
    throw badInput(
      'memory size',
      `${String(memory)} is not a whole number of MB between ${MIN_MEMORY_MB} and ${MAX_MEMORY_MB}`,
      'give the memory in MB, e.g. 128',
    )
  }
  checkDiskSize(hd)
  checkNic((c as Record<string, unknown>).nic)
  if (typeof speed !== 'number' || !Number.isInteger(speed) || speed < 1) {
    throw badInput(
      'speed',
      `${String(speed)} is not a positive whole number of bogomips`,
      'give the speed in bogomips, e.g. 1000',
    )
  }
  if (os !== null && (typeof os !== 'string' || !OS_PATTERN.test(os))) {
    throw badInput(
      'os',
      `${JSON.stringify(os)} is not an OS name`,
      "use 'linux' for the guest image or null for a blank disk",
    )
  }
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

function checkNic(nic: unknown): void {
  if (nic === undefined || nic === null) return
  const n = nic as Record<string, unknown>
  const fix = 'pass { mac, net, address, prefix } as the market issued them'
  if (typeof n !== 'object') throw badInput('network card', 'it is not an object', fix)
  // A unicast MAC: QEMU refuses a multicast one, and a switch could never learn it.
  if (typeof n.mac !== 'string' || !MAC.test(n.mac) || (parseInt(n.mac.slice(0, 2), 16) & 1) === 1)
    throw badInput('MAC address', `${JSON.stringify(n.mac)} is not a unicast MAC like 02:00:00:00:00:01`, fix)
  if (typeof n.net !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(n.net))
    throw badInput('network id', `${JSON.stringify(n.net)} is not a network id`, fix)
  const m = typeof n.address === 'string' ? IPV4.exec(n.address) : null
  if (!m || m.slice(1).some((x) => Number(x) > 255))
    throw badInput('address', `${JSON.stringify(n.address)} is not an IPv4 address`, fix)
  if (typeof n.prefix !== 'number' || !Number.isInteger(n.prefix) || n.prefix < 8 || n.prefix > 30)
    throw badInput('prefix', `${String(n.prefix)} is not a prefix length from 8 to 30`, fix)
}

export const HOSTNAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/
/** One OpenSSH public key line: type, base64 body, optional comment; no quotes or newlines. */
export const SSH_KEY_PATTERN =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^"\n\r]*)?$/
/** A crypt(3) hash ($id$salt$hash): what chpasswd and usermod -p take. */
export const CRYPT_PATTERN = /^\$[0-9a-z]+\$[./A-Za-z0-9$=,]+$/

function validHostKey(k: unknown): boolean {
  const { public: pub, private: priv } = (k ?? {}) as Record<string, unknown>
  return (
    typeof pub === 'string' &&
    /^ssh-ed25519 [A-Za-z0-9+/=]+( [^"\n\r]*)?$/.test(pub) &&
    typeof priv === 'string' &&
    /^-----BEGIN OPENSSH PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END OPENSSH PRIVATE KEY-----\n?$/.test(priv)
  )
}

export function checkGuest(g: unknown): asserts g is GuestSetup {
  if (!g || typeof g !== 'object') throw badInput('guest set-up', 'none was given', 'pass { hostname, sshKeys }')
  const { hostname, sshKeys, passwordHash, hostKey } = g as Record<string, unknown>
  if (typeof hostname !== 'string' || !HOSTNAME_PATTERN.test(hostname))
    throw badInput('hostname', `${JSON.stringify(hostname)} is not a host name`, 'use a-z, 0-9 and inner dashes')
  if (
    !Array.isArray(sshKeys) ||
    sshKeys.length > 32 ||
    !sshKeys.every((k) => typeof k === 'string' && SSH_KEY_PATTERN.test(k))
  )
    throw badInput('SSH keys', 'each must be one OpenSSH public key line', 'pass the contents of a .pub file')
  if (hostKey != null && !validHostKey(hostKey))
    throw badInput('host key', 'it is not an OpenSSH ed25519 key pair', 'pass { public, private } as ssh-keygen writes')
  if (passwordHash != null && (typeof passwordHash !== 'string' || !CRYPT_PATTERN.test(passwordHash)))
    throw badInput('password hash', 'it is not a crypt(3) hash', "make one with 'openssl passwd -6'")
}

export function checkVersion(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw badInput('version', `${String(v)} is not a whole number >= 0`, 'pass the version the market holds')
  return v
}
