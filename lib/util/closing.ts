/**
 * Whether a store's close has begun (a store's `StoreClosing` is one): waits for a descriptor give up then. In a
 * module of its own, with no Node import: the import journal's published types name it, and those must type-check
 * without @types/node.
 */
export interface ClosingState {
  readonly started: boolean
}
