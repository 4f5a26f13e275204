// Composer drafts, per conversation, kept in localStorage so a reload, a crash of the
// tab or an expired session does not lose what an agent was typing (issue 11, point 5).
// One key per user: on a shared computer the next person never sees someone else's
// words. Bounded: the newest MAX_DRAFTS, none older than MAX_AGE_MS.

/** What the composer needs of a draft store (the Map it replaced had the same shape). */
export interface Drafts {
  get(conversationId: number): string | undefined
  set(conversationId: number, text: string): void
  delete(conversationId: number): void
  /** Switches to another user's drafts (after sign-in); null keeps them in memory only. */
  use(userId: number | null): void
}

interface Entry {
  text: string
  /** When it was last typed (ms): the oldest go first when the store is pruned. */
  at: number
}

// An agent works a few dozen conversations a day; 50 drafts is far more than anyone
// leaves unfinished, and keeps the stored JSON to a few KB.
export const MAX_DRAFTS = 50
// A draft untouched for two weeks is forgotten, not resurrected months later.
export const MAX_AGE_MS = 14 * 86_400_000

export const draftsKey = (userId: number) => `parley.drafts.${userId}`

/** Keeps the newest `max` entries younger than `maxAgeMs`. */
export function prune(entries: Record<string, Entry>, now: number, max = MAX_DRAFTS, maxAgeMs = MAX_AGE_MS): Record<string, Entry> {
  const kept = Object.entries(entries)
    .filter(([, e]) => typeof e?.text === 'string' && e.text !== '' && typeof e.at === 'number' && now - e.at < maxAgeMs)
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, max)
  return Object.fromEntries(kept)
}

function storage(): Storage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage
  } catch {
    // Storage disabled by the browser's privacy settings: drafts live in memory only.
    return null
  }
}

export function createDrafts(now: () => number = Date.now): Drafts {
  let key: string | null = null
  let entries: Record<string, Entry> = {}

  const read = (): Record<string, Entry> => {
    const s = storage()
    if (!s || !key) return entries
    try {
      const parsed = JSON.parse(s.getItem(key) ?? '{}') as unknown
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, Entry>) : {}
    } catch {
      return {}
    }
  }
  const write = () => {
    const s = storage()
    if (!s || !key) return
    try {
      if (Object.keys(entries).length) s.setItem(key, JSON.stringify(entries))
      else s.removeItem(key)
    } catch {
      /* quota exceeded: the drafts still work in memory */
    }
  }

  return {
    // Read through each time: another tab of the same agent may have typed since.
    get(id) {
      entries = read()
      return entries[id]?.text
    },
    set(id, text) {
      entries = read()
      entries[id] = { text, at: now() }
      entries = prune(entries, now())
      write()
    },
    delete(id) {
      entries = read()
      if (!(id in entries)) return
      delete entries[id]
      write()
    },
    use(userId) {
      const memory = key === null ? entries : {}
      key = userId === null ? null : draftsKey(userId)
      // Anything typed before the user was known joins that user's drafts.
      entries = prune({ ...read(), ...memory }, now())
      write()
    },
  }
}
