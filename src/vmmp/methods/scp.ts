export const scpMethod: any = { name: 'SCP', pull: async () => { throw new Error('todo') } }
