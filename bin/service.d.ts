export declare const SERVICE_FLAGS: string[]
export declare function startsNode(args: string[]): boolean
export declare function needsServiceFlags(args: string[], execArgv?: string[]): boolean
export declare function relaunchWithServiceFlags(script: string, args: string[]): void
