// Operator actions, served only on the hub's own machine (never to network clients): crediting
// accounts (the only way money enters), the whole event log, export/import of every table (the
// report's switchdb), and an audit of the money invariant.
import type { Ctx } from './context.ts'
import { userRow } from './context.ts'
import { settleDebtsOps } from './billing.ts'
import { errors } from './errors.ts'
import { eventOp } from './events.ts'
import { formatMoney } from './pricing.ts'
import type { Micro, UserRow } from './types.ts'
import { Wallet } from './wallet.ts'

/** A deposit; storage debts of the user are paid from it at once, in the same batch. */
export async function credit(ctx: Ctx, username: string, amount: Micro): Promise<UserRow> {
  if (!Number.isSafeInteger(amount) || amount <= 0) throw errors.badInput('amount', 'must be a positive amount')
  userRow(ctx, username)
  const now = ctx.clock()
  const wallet = new Wallet(ctx.store)
  const ops = [
    wallet.transfer('deposit', now, null, username, amount, null, null),
    ...settleDebtsOps(ctx, username, wallet, now),
  ]
  ops.push(
    ...wallet.flush(),
    eventOp(now, {
      origin: 'hub',
      type: 'account.credit',
      message: `credited ${formatMoney(amount)} to ${username}`,
      users: [username],
    }),
  )
  await ctx.store.write(ops)
  return ctx.store.get('users', username)!
}

export interface Audit {
  balances: Micro
  deposits: Micro
  ok: boolean
}

/** The sum of all balances equals the sum of all deposits, always (every charge is a transfer). */
export async function audit(ctx: Ctx): Promise<Audit> {
  let balances = 0
  for (const u of ctx.store.values('users')) balances += u.balance
  let deposits = 0
  await ctx.store.scan('ledger', (e) => {
    if (e.kind === 'deposit') deposits += e.amount
  })
  return { balances, deposits, ok: balances === deposits }
}
