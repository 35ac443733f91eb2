// Images (the report's preconfigurations, §6.3.1): the market's catalog, live from the feed. A buyer
// registers a machine from the selected image (the register form opens with it chosen); the image is
// delivered to the provider at store, which Machines shows.
import React from 'react'
import { Box, Text } from 'ink'
import type { AccountType, ImageRow, PmRow, VmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { IMAGE_COLUMNS, imageDetails, imageRow } from '../render/images.ts'
import { useTone } from '../theme.ts'

export interface ImagesProps {
  images: ImageRow[]
  pms: PmRow[]
  vms: VmRow[]
  accountType: AccountType | null
  now: number
  width: number
  height: number
  /** Buyer: register a machine from this image (opens the form). */
  onRegister?: (img: ImageRow) => void
}

const DETAIL_LINES = 4

export function Images(p: ImagesProps): React.JSX.Element {
  const tone = useTone()
  const page = Math.max(1, p.height - 2 - DETAIL_LINES)
  const [i] = useSelection(p.images.length, { page })
  const img = p.images[i]
  useViewActions(
    p.accountType === 'buyer' && img && p.onRegister
      ? [{ key: 'n', description: 'register from this image', mutates: true, run: () => p.onRegister!(img) }]
      : [],
  )
  return (
    <Box flexDirection="column">
      <Table
        title={`Images (${p.images.length}) · delivered to the provider at store, verified, cached there`}
        columns={IMAGE_COLUMNS}
        rows={p.images.map((x) => imageRow(x, p.vms))}
        width={p.width}
        height={page}
        selected={i}
        empty="no images yet: an operator adds one with `virtuoso admin image add NAME FILE`"
      />
      {img &&
        imageDetails(img, p.pms, p.vms, p.now).map((line, k) => (
          <Text key={k} color={tone('muted')} wrap="truncate">
            {line}
          </Text>
        ))}
    </Box>
  )
}
