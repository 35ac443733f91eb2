// Balances being changed by one batch. Reads fall through to the users table; every debit has a
// matching credit in the same batch (see ledgerOp), so the sum of balances only moves by deposits.
import type { Store, Op } from './store.ts'
import type { LedgerEntry, Micro } from './types.ts'

export class Wallet {
  private changed = new Map<string, Micro>()
  constructor(private store: Store) {}

  balance(user: string): Micro {
    return this.changed.get(user) ?? this.store.get('users', user)?.balance ?? 0
  }

  /** Moves `amount` from `from` (null = a deposit from outside) to `to`, returning the ledger op. */
  transfer(
    kind: LedgerEntry['kind'],
    time: number,
    from: string | null,
    to: string,
    amount: Micro,
    vmId: string | null,
    pmId: string | null,
  ): Op {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`bad amount ${amount}`)
    if (from !== null) this.changed.set(from, this.balance(from) - amount)
    this.changed.set(to, this.balance(to) + amount)
    const value: LedgerEntry = { seq: 0, time, kind, from, to, amount, vmId, pmId }
    return { type: 'append', table: 'ledger', value: value as unknown as Record<string, unknown> }
  }

  get dirty(): boolean {
    return this.changed.size > 0
  }

  /** The user rows to write, then forgets them (the store now holds the new balances). */
  flush(): Op[] {
    const ops: Op[] = []
    for (const [name, balance] of this.changed) {
      const row = this.store.get('users', name)
      if (row) ops.push({ type: 'put', table: 'users', key: name, value: { ...row, balance } })
    }
    this.changed.clear()
    return ops
  }
}
