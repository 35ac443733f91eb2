// Accounts (report §6.1.3): signup, login, logout, authenticate. Passwords are stored as scrypt
// hashes with a per-user salt (in the hub-only `credentials` table) and compared in constant time.
// A session is a 256-bit random token; only its sha256 is stored, so the database alone opens nothing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { needsRehash, scrypt, SCRYPT_KEYLEN } from '../scrypt.ts'
import type { Ctx } from './context.ts'
import { requireUser, userRow } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import type { CredentialRow, SessionRow } from './rows.ts'
import type { Op } from './store.ts'
import type { AccountType, Identity, UserRow } from './types.ts'

export const DEFAULT_SESSION_TTL_MS = 7 * 24 * 3600 * 1000
export const USERNAME = /^[a-z0-9_-]{2,32}$/
export const MIN_PASSWORD = 8
const MAX_PASSWORD = 1024
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@.]{1,63}$/

export const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex')

export interface SignupInput {
  username: string
  type: AccountType
  email: string
  password: string
}

export async function signup(ctx: Ctx, input: SignupInput): Promise<UserRow> {
  const { username, type, email, password } = input
  if (typeof username !== 'string' || !USERNAME.test(username))
    throw errors.badInput('username', 'use 2 to 32 of a-z, 0-9, _ and -')
  if (type !== 'buyer' && type !== 'provider') throw errors.badInput('type', 'must be buyer or provider')
  if (typeof email !== 'string' || !EMAIL.test(email))
    throw errors.badInput('email', `"${String(email)}" does not look like an email address`)
  if (typeof password !== 'string' || password.length < MIN_PASSWORD)
    throw errors.badInput('password', `use at least ${MIN_PASSWORD} characters`)
  if (password.length > MAX_PASSWORD) throw errors.badInput('password', `use at most ${MAX_PASSWORD} characters`)
  if (ctx.store.get('users', username)) throw errors.userExists(username)
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, ctx.scrypt, SCRYPT_KEYLEN)
  // Checked again after the await: two signups for one name may race through the hash.
  if (ctx.store.get('users', username)) throw errors.userExists(username)
  const now = ctx.clock()
  const user: UserRow = { username, email, type, balance: 0, created: now }
  const cred: CredentialRow = {
    username,
    ...ctx.scrypt,
    salt: salt.toString('hex'),
    hash: hash.toString('hex'),
  }
  await ctx.store.write([
    { type: 'put', table: 'users', key: username, value: user },
    { type: 'put', table: 'credentials', key: username, value: cred },
    eventOp(now, {
      origin: `user:${username}`,
      type: 'user.signup',
      message: `${type} ${username} signed up`,
      users: [username],
    }),
  ])
  return user
}

export interface LoginResult {
  token: string
  expires: number
  identity: Identity
}

export async function login(
  ctx: Ctx,
  input: { username: string; password: string; ttlMs?: number },
): Promise<LoginResult> {
  const { username, password } = input
  if (typeof username !== 'string' || typeof password !== 'string') throw errors.badCredentials()
  const cred = ctx.store.get('credentials', username)
  // An unknown user costs the same hash as a known one: timing does not tell which names exist.
  const salt = cred ? Buffer.from(cred.salt, 'hex') : randomBytes(16)
  const params = cred ?? ctx.scrypt
  const want = cred ? Buffer.from(cred.hash, 'hex') : randomBytes(SCRYPT_KEYLEN)
  const got = await scrypt(password.slice(0, MAX_PASSWORD), salt, params, want.length)
  if (!cred || !timingSafeEqual(got, want)) throw errors.badCredentials()
  const rehashed = needsRehash(cred, ctx.scrypt) ? await rehash(ctx, cred, password.slice(0, MAX_PASSWORD)) : null
  const user = userRow(ctx, username)
  const asked = input.ttlMs ?? ctx.sessionTtlMs
  if (!Number.isSafeInteger(asked) || asked <= 0)
    throw errors.badInput('ttl', 'must be a positive number of milliseconds')
  // The client may ask for less, never for more than the hub's own lifetime (issue 11, item 8).
  const ttl = Math.min(asked, ctx.sessionTtlMs)
  const token = randomBytes(32).toString('hex')
  const now = ctx.clock()
  const session: SessionRow = { id: tokenHash(token), username, created: now, expires: now + ttl }
  const ops: Op[] = [{ type: 'put', table: 'sessions', key: session.id, value: session }]
  // Only if the row is still the one checked: a password changed meanwhile is not overwritten.
  if (rehashed && ctx.store.get('credentials', username)?.hash === cred.hash)
    ops.push({ type: 'put', table: 'credentials', key: username, value: rehashed })
  // Expired sessions of this user are swept at each login, so the table stays small.
  for (const s of ctx.store.values('sessions'))
    if (s.username === username && s.expires <= now) ops.push({ type: 'del', table: 'sessions', key: s.id })
  await ctx.store.write(ops)
  return { token, expires: session.expires, identity: { username, type: user.type } }
}

/** The same password hashed at the market's current cost, with a new salt (issue 11, item 8). */
async function rehash(ctx: Ctx, cred: CredentialRow, password: string): Promise<CredentialRow> {
  const salt = randomBytes(16)
  const hash = await scrypt(password, salt, ctx.scrypt, SCRYPT_KEYLEN)
  return { username: cred.username, ...ctx.scrypt, salt: salt.toString('hex'), hash: hash.toString('hex') }
}

/** Ends a session, given its token or the identity authenticate returned for it. */
export async function logout(ctx: Ctx, tokenOrWho: string | Identity | null): Promise<void> {
  const id = typeof tokenOrWho === 'string' ? tokenHash(tokenOrWho) : (tokenOrWho?.session ?? '')
  if (!ctx.store.get('sessions', id)) throw errors.authRequired()
  await ctx.store.write([{ type: 'del', table: 'sessions', key: id }])
}

/** Synchronous: the hub checks a token on every request. */
/** What a request needs: nothing (a token, if given, still says who calls), any user, or a kind. */
export type Need = 'none' | 'user' | 'buyer' | 'provider'

/** Who calls with `token`, if they may call `what`, which needs `need`. */
export function authorize(ctx: Ctx, token: string, need: Need, what: string): Identity | null {
  if (!token) {
    if (need === 'none') return null
    throw errors.authRequired()
  }
  const who = authenticate(ctx, token)
  if (need === 'buyer' && who.type !== 'buyer') throw errors.forbidden(what, 'providers')
  if (need === 'provider' && who.type !== 'provider') throw errors.forbidden(what, 'buyers')
  return who
}

export function authenticate(ctx: Ctx, token: string): Identity {
  if (typeof token !== 'string' || !/^[0-9a-f]{64}$/.test(token)) throw errors.authRequired()
  const s = ctx.store.get('sessions', tokenHash(token))
  if (!s) throw errors.authRequired()
  if (s.expires <= ctx.clock()) {
    void ctx.store.write([{ type: 'del', table: 'sessions', key: s.id }]).catch(() => {})
    throw errors.sessionExpired()
  }
  const user = ctx.store.get('users', s.username)
  if (!user) throw errors.authRequired()
  return { username: user.username, type: user.type, session: s.id }
}

export function whoami(ctx: Ctx, who: Identity | null): UserRow {
  return userRow(ctx, requireUser(who).username)
}

export { userOrigin }
