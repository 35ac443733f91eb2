// Signup (signup.pl): a buyer or provider account; logs in on success. ctrl-l goes back to login.
import React from 'react'
import { Box, Text } from 'ink'
import { Form } from '../components/Form.tsx'
import { useKeys } from '../hooks/use-keys.ts'
import { useTone } from '../theme.ts'

export interface SignupValues {
  user: string
  type: 'buyer' | 'provider'
  email: string
  password: string
}

export interface SignupProps {
  width: number
  onSignup: (v: SignupValues) => unknown
  onLogin: () => void
}

export const MIN_PASSWORD = 8

export function signupValues(v: Record<string, string>): SignupValues {
  if (v.password !== v.repeat) throw new Error('the two passwords differ')
  if (v.password.length < MIN_PASSWORD) throw new Error(`use a password of at least ${MIN_PASSWORD} characters`)
  return {
    user: v.user.trim(),
    type: v.type === 'provider' ? 'provider' : 'buyer',
    email: v.email.trim(),
    password: v.password,
  }
}

export function Signup(p: SignupProps): React.JSX.Element {
  const tone = useTone()
  useKeys((name) => {
    if (name === 'ctrl+l') p.onLogin()
  })
  return (
    <Box flexDirection="column">
      <Text color={tone('accent')} bold>
        Virtuoso: new account
      </Text>
      <Text color={tone('muted')} wrap="truncate">
        Buyers rent machines; providers sell their machines' speed, memory and storage.
      </Text>
      <Text> </Text>
      <Form
        title="Sign up"
        width={p.width}
        submitLabel="sign up"
        fields={[
          { name: 'user', label: 'user', hint: 'a-z 0-9 _ -' },
          { name: 'type', label: 'account', kind: 'choice', options: ['buyer', 'provider'] },
          { name: 'email', label: 'email' },
          { name: 'password', label: 'password', kind: 'secret', hint: `${MIN_PASSWORD}+ chars` },
          { name: 'repeat', label: 'again', kind: 'secret' },
        ]}
        onSubmit={(v) => p.onSignup(signupValues(v))}
        onCancel={p.onLogin}
      />
      <Text> </Text>
      <Text color={tone('muted')}>
        <Text color={tone('accent')}>ctrl+l</Text> or <Text color={tone('accent')}>esc</Text> back to log in.
      </Text>
    </Box>
  )
}
