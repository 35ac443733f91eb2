import { describe, it, expect } from 'vitest'
import { parseMoney, formatMoney, quote, storagePrice, runningPrice, withinBids } from '../../src/market/pricing.ts'
import { SHEET } from './helpers.ts'

describe('pricing', () => {
  it('parses decimal strings exactly, with no floats', () => {
    expect(parseMoney('0.0001')).toBe(100)
    expect(parseMoney('1')).toBe(1_000_000)
    expect(parseMoney('12.345678')).toBe(12_345_678)
    expect(parseMoney('0.1')).toBe(100_000)
    for (const bad of ['-1', '1e3', '0.0000001', 'abc', '', '1.', '.5']) {
      expect(() => parseMoney(bad)).toThrow(expect.objectContaining({ code: 'MARKET_BAD_INPUT' }))
    }
  })
  it('formats micro-units', () => {
    expect(formatMoney(100)).toBe('0.0001')
    expect(formatMoney(1_500_000)).toBe('1.5')
    expect(formatMoney(2_000_000)).toBe('2')
    expect(formatMoney(parseMoney('3.000007'))).toBe('3.000007')
  })
  it('computes running price per running period from chunks', () => {
    // 1500 bogomips -> 2 chunks of 1000; 200 MB -> 2 chunks of 128; 4 micro per second * 3600 s
    expect(runningPrice(SHEET, { speed: 1500, memory: 200, hd: 3000 })).toBe(4 * 3600)
  })
  it('computes storage price per storage period, rounded down to micro-units', () => {
    // 3000 MB -> 3 chunks of 1024 at 1000/day; one day = 3000
    expect(storagePrice(SHEET, { speed: 1, memory: 1, hd: 3000 })).toBe(3000)
    // 1/3 of a day: 1000 exactly; 1 s: floor(3000/86400) = 0
    expect(storagePrice({ ...SHEET, storagePeriod: 28_800 }, { speed: 1, memory: 1, hd: 3000 })).toBe(1000)
    expect(storagePrice({ ...SHEET, storagePeriod: 1, storagePrice: 86_401 }, { speed: 1, memory: 1, hd: 1000 })).toBe(
      1,
    )
  })
  it('normalizes and checks bids', () => {
    const q = quote(SHEET, { speed: 1000, memory: 128, hd: 2048 })
    expect(q.storagePerDay).toBe(2000)
    expect(q.runningPerHour).toBe(2 * 3600)
    expect(withinBids(q, { bidStorage: null, bidRunning: null })).toBe(true)
    expect(withinBids(q, { bidStorage: 2000, bidRunning: 7200 })).toBe(true)
    expect(withinBids(q, { bidStorage: 1999, bidRunning: null })).toBe(false)
    expect(withinBids(q, { bidStorage: null, bidRunning: 7199 })).toBe(false)
  })
  it('refuses prices too large to represent exactly', () => {
    expect(() =>
      runningPrice({ ...SHEET, speedPrice: Number.MAX_SAFE_INTEGER }, { speed: 5000, memory: 1, hd: 1 }),
    ).toThrow(expect.objectContaining({ code: 'MARKET_BAD_INPUT' }))
  })
})
