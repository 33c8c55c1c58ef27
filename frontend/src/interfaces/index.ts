export type * from './models'
export type * from './protocol'
export { CloseCode, INCOMING_STATES } from './protocol'
