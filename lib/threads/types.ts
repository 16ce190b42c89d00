/** What a thread needs to know of a store to add to it. */
export interface ThreadStoreSpec {
  root: string
  fsync: boolean
}
