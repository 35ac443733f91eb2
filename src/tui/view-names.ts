// The dashboard's views, in the order of their number keys.
export type ViewName = 'market' | 'machines' | 'account' | 'migrations' | 'log' | 'console' | 'images'
export const VIEWS: Array<{ name: ViewName; key: string; title: string }> = [
  { name: 'market', key: '1', title: 'Market' },
  { name: 'machines', key: '2', title: 'Machines' },
  { name: 'account', key: '3', title: 'Account' },
  { name: 'migrations', key: '4', title: 'Migrations' },
  { name: 'log', key: '5', title: 'Log' },
  { name: 'console', key: '6', title: 'Console' },
  { name: 'images', key: '7', title: 'Images' },
]
