// Log view rows: the event log (events concerning me), oldest first so the view can follow the tail.
import type { EventRow } from '../../market/types.ts'
import type { Column } from './table.ts'
import { clock } from './format.ts'

export const LOG_COLUMNS: Column[] = [
  { header: 'TIME', min: 8 },
  { header: 'ORIGIN', min: 6 },
  { header: 'TYPE', min: 8 },
  { header: 'MESSAGE', grow: true, min: 20 },
]

export function eventRow(e: EventRow, now: number): string[] {
  return [clock(e.time, now), e.origin, e.type, e.message]
}

export function orderEvents(events: EventRow[]): EventRow[] {
  return [...events].sort((a, b) => a.seq - b.seq)
}

/** Is this event a failure worth coloring? */
export function isAlarm(e: Pick<EventRow, 'type'>): boolean {
  return /fail|error|lost|offline|exhaust|refus/i.test(e.type)
}
