// A form that owns the keyboard while open: tab/↓ next field, shift-tab/↑ back, ←/→ choices,
// enter next (submits on the last field), ctrl-s submits, esc cancels. Locked fields are shown, greyed.
import React, { useRef, useState } from 'react'
import { Box, Text } from 'ink'
import { useKeys } from '../hooks/use-keys.ts'
import { useCapture, useFrame } from '../hooks/use-frame.ts'
import { cycleChoice, editText, firstField, initialValues, nextField, shown, type Field } from '../render/form.ts'
import { errorMessage } from '../Frame.tsx'
import { useTone } from '../theme.ts'

export const FORM_HINT = '<tab> next  <⏎> next/submit  <ctrl+s> submit  <←/→> choose  <esc> cancel'

export interface FormProps {
  title: string
  fields: Field[]
  submitLabel?: string
  width: number
  /** May return a promise; a rejection is shown in the form and the form stays open. */
  onSubmit: (values: Record<string, string>) => unknown
  onCancel?: () => void
  onChange?: (values: Record<string, string>) => Record<string, string> | void
  note?: string
}

export function Form(p: FormProps): React.JSX.Element {
  const tone = useTone()
  const frame = useFrame()
  const [values, setValues] = useState(() => initialValues(p.fields))
  const [at, setAt] = useState(() => firstField(p.fields))
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  useCapture(true, FORM_HINT)

  // Keys can arrive faster than renders: edits read and write the latest values through a ref.
  const latest = useRef(values)
  latest.current = values
  const set = (name: string, edit: (old: string) => string) => {
    const cur = latest.current
    const next = { ...cur, [name]: edit(cur[name] ?? '') }
    latest.current = p.onChange?.(next) ?? next
    setValues(latest.current)
  }
  const submit = () => {
    if (busy) return
    setError(null)
    let r: unknown
    try {
      r = p.onSubmit(latest.current)
    } catch (err) {
      setError(errorMessage(err))
      return
    }
    if (r && typeof (r as Promise<unknown>).then === 'function') {
      setBusy(true)
      ;(r as Promise<unknown>).then(
        () => setBusy(false),
        (err) => {
          setBusy(false)
          setError(errorMessage(err))
        },
      )
    }
  }

  useKeys((name, input) => {
    const f = p.fields[at]
    if (name === 'esc') return p.onCancel?.()
    if (name === 'ctrl+s') return submit()
    if (name === 'tab' || name === 'down') return setAt(nextField(p.fields, at, 1))
    if (name === 'shift+tab' || name === 'up') return setAt(nextField(p.fields, at, -1))
    if (name === 'enter') {
      const n = nextField(p.fields, at, 1)
      return n <= at ? submit() : setAt(n)
    }
    if (!f || f.kind === 'locked') return
    if (f.kind === 'choice') {
      if (name === 'left') set(f.name, (v) => cycleChoice(f, v, -1))
      else if (name === 'right' || name === ' ') set(f.name, (v) => cycleChoice(f, v, 1))
      return
    }
    set(f.name, (v) => editText(v, input, name))
  }, !frame.confirming)

  const labelWidth = Math.min(24, Math.max(...p.fields.map((f) => f.label.length)) + 1)
  return (
    <Box flexDirection="column" width={p.width}>
      <Text color={tone('title')} bold>
        {p.title}
      </Text>
      {p.note && (
        <Text color={tone('muted')} wrap="truncate">
          {p.note}
        </Text>
      )}
      {p.fields.map((f, i) => {
        const cur = i === at
        const v = values[f.name] ?? ''
        const locked = f.kind === 'locked'
        const body =
          f.kind === 'choice'
            ? (f.options ?? []).map((o) => (o === v ? `[${o}]` : ` ${o} `)).join('')
            : shown(f, v) + (cur ? '▏' : '')
        return (
          <Text key={f.name} wrap="truncate" color={locked ? tone('locked') : undefined}>
            <Text color={cur ? tone('accent') : undefined} bold={cur}>
              {cur ? '> ' : '  '}
              {f.label.padEnd(labelWidth)}
            </Text>
            <Text inverse={cur && f.kind !== 'choice'}>{body}</Text>
            {locked ? '  (locked)' : f.hint ? <Text color={tone('muted')}>{'  ' + f.hint}</Text> : ''}
          </Text>
        )
      })}
      <Text color={error ? tone('error') : tone('muted')} wrap="truncate">
        {busy
          ? `${p.submitLabel ?? 'submit'}…`
          : error
            ? `✗ ${error}`
            : `<⏎ on last field / ctrl+s> ${p.submitLabel ?? 'submit'}  <esc> cancel`}
      </Text>
    </Box>
  )
}
