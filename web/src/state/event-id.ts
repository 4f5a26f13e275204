// Stream event ids are `<epoch>:<n>`: n grows by one per committed change, and the
// epoch names the database, so ids from different databases never compare.

export interface EventPos {
  epoch: string
  n: number
}

export function parseEventId(id: string | null | undefined): EventPos | null {
  if (!id) return null
  const i = id.lastIndexOf(':')
  if (i <= 0) return null
  const n = Number(id.slice(i + 1))
  return Number.isSafeInteger(n) && n >= 0 ? { epoch: id.slice(0, i), n } : null
}

/** The event's sequence number within the stream's epoch (0 when there is none): the campaign screens compare these. */
export function seqOf(id: string | null | undefined): number {
  const n = id ? Number(id.slice(id.lastIndexOf(':') + 1)) : NaN
  return Number.isFinite(n) ? n : 0
}
