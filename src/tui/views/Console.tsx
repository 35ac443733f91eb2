// Console (viewmachine.pl): the machine's screen over console@1. Not wired yet: this view says so
// plainly rather than pretending; the console issue brings the live screen.
import React from 'react'
import { Box, Text } from 'ink'
import type { PmRow, VmRow } from '../../market/types.ts'
import { useViewActions } from '../hooks/use-frame.ts'
import { useTone } from '../theme.ts'

export interface ConsoleProps {
  vm: VmRow | null
  pm?: PmRow
  onBack?: () => void
}

export function Console(p: ConsoleProps): React.JSX.Element {
  const tone = useTone()
  useViewActions(p.onBack ? [{ key: 'esc', description: 'back to machines', run: p.onBack }] : [])
  if (!p.vm) {
    return (
      <Box flexDirection="column">
        <Text color={tone('title')} bold>Console</Text>
        <Text>No machine chosen: in Machines, select a started machine and press v.</Text>
      </Box>
    )
  }
  const v = p.vm
  return (
    <Box flexDirection="column">
      <Text color={tone('title')} bold wrap="truncate">Console of {v.name || v.id} ({v.state}{p.pm ? ` on ${p.pm.name}` : ''})</Text>
      <Text> </Text>
      <Text wrap="wrap">The live console is not connected yet: console@1 (the guest's serial screen from the provider, typed into directly) arrives with the console issue.</Text>
      <Text> </Text>
      <Text color={tone('muted')} wrap="truncate">machine {v.id}</Text>
      {v.state !== 'started' && <Text color={tone('warn')} wrap="truncate">This machine is {v.state}: a console needs it started.</Text>}
    </Box>
  )
}
