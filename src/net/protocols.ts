// The protomux protocol names: one channel per protocol, the major version in the name so a peer
// that speaks only an older one sees the channel never open rather than misread frames.
export const PROTOCOLS = {
  market: 'virtuoso/market@1',
  control: 'virtuoso/control@1',
  replica: 'virtuoso/replica@1',
  console: 'virtuoso/console@1',
  vmmp: 'virtuoso/vmmp@1',
  blocks: 'virtuoso/blocks@1',
} as const
