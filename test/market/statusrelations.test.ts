import { describe, it, expect } from 'vitest'
import { STATUS_RELATIONS, requireAction, allowedActions } from '../../src/market/statusrelations.ts'

describe('statusrelations (report §6.1.7)', () => {
  it('is the report table in our spelling', () => {
    expect(STATUS_RELATIONS).toEqual({
      registered: ['search', 'edit', 'store', 'delete'],
      stored: ['start', 'migrate', 'delete'],
      started: ['stop', 'view', 'suspend'],
      stopped: ['start', 'migrate', 'delete'],
      suspended: ['resume', 'migrate', 'delete'],
      migrating: ['migrationstatus'],
    })
  })
  it('refuses an action the state does not allow, naming the allowed ones', () => {
    expect(() => requireAction('migrating', 'start')).toThrow(
      expect.objectContaining({ code: 'MARKET_ACTION_NOT_ALLOWED' }),
    )
    try {
      requireAction('started', 'delete')
    } catch (err: any) {
      for (const a of allowedActions('started')) expect(err.message).toContain(a)
    }
    expect(() => requireAction('stored', 'start')).not.toThrow()
  })
})
