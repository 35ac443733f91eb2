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
    let err: any = null
    try {
      requireAction('started', 'delete')
    } catch (e) {
      err = e
    }
    expect(err?.code).toBe('MARKET_ACTION_NOT_ALLOWED')
    for (const a of allowedActions('started')) expect(err.message).toContain(a)
    expect(() => requireAction('stored', 'start')).not.toThrow()
  })

  it('every state refuses exactly the actions it does not list, with the code', () => {
    const all = [...new Set(Object.values(STATUS_RELATIONS).flat())]
    for (const [state, allowed] of Object.entries(STATUS_RELATIONS)) {
      for (const action of all) {
        const run = () => requireAction(state as any, action as any)
        if (allowed.includes(action as never)) expect(run).not.toThrow()
        else expect(run).toThrow(expect.objectContaining({ code: 'MARKET_ACTION_NOT_ALLOWED' }))
      }
    }
  })
})
