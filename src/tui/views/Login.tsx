// Login (login.pl): user name and password; ctrl-n switches to signing up.
import React from 'react'
import { Box, Text } from 'ink'
import { Form } from '../components/Form.tsx'
import { useKeys } from '../hooks/use-keys.ts'
import { useTone } from '../theme.ts'

export interface LoginProps {
  width: number
  market?: string
  user?: string
  onLogin: (user: string, password: string) => unknown
  onSignup: () => void
  onQuit?: () => void
}

export function Login(p: LoginProps): React.JSX.Element {
  const tone = useTone()
  useKeys((name) => {
    if (name === 'ctrl+n') p.onSignup()
  })
  return (
    <Box flexDirection="column">
      <Text color={tone('accent')} bold>
        Virtuoso: raw virtual machines, bought and sold peer to peer
      </Text>
      {p.market && (
        <Text color={tone('muted')} wrap="truncate">
          market {p.market}
        </Text>
      )}
      <Text> </Text>
      <Form
        title="Log in"
        width={p.width}
        submitLabel="log in"
        fields={[
          { name: 'user', label: 'user', value: p.user ?? '' },
          { name: 'password', label: 'password', kind: 'secret' },
        ]}
        onSubmit={(v) => p.onLogin(v.user.trim(), v.password)}
        onCancel={p.onQuit}
      />
      <Text> </Text>
      <Text color={tone('muted')}>
        No account? <Text color={tone('accent')}>ctrl+n</Text> signs up (buyer or provider).{' '}
        <Text color={tone('accent')}>esc</Text> quits.
      </Text>
    </Box>
  )
}
