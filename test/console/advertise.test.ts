// What a provider publishes as its SSH console address: never a wildcard bind address verbatim.
import { describe, expect, it } from 'vitest'
import { advertisedHost } from '../../src/console/advertise.ts'

const lo = { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true }
const eth = { ...lo, address: '10.1.2.3', netmask: '255.255.255.0', internal: false, mac: '52:54:00:12:34:56' }
const v6 = { ...eth, address: 'fd00::3', family: 'IPv6', scopeid: 0 }

describe('advertisedHost', () => {
  it('publishes a specific bind address as it is', () => {
    expect(advertisedHost('127.0.0.1', undefined, { lo: [lo as any] })).toBe('127.0.0.1')
    expect(advertisedHost('10.1.2.3', undefined, { lo: [lo as any] })).toBe('10.1.2.3')
  })

  it('publishes what the operator gave (--ssh-host), unless that is a wildcard', () => {
    expect(advertisedHost('0.0.0.0', 'prov.example.org', { lo: [lo as any] })).toBe('prov.example.org')
    expect(advertisedHost('0.0.0.0', '0.0.0.0', { lo: [lo as any], eth0: [v6 as any, eth as any] })).toBe('10.1.2.3')
  })

  it('finds a non-loopback IPv4 address for a wildcard bind, else falls back to loopback', () => {
    expect(advertisedHost('0.0.0.0', undefined, { lo: [lo as any], eth0: [v6 as any, eth as any] })).toBe('10.1.2.3')
    expect(advertisedHost('::', undefined, { lo: [lo as any] })).toBe('127.0.0.1')
  })
})
