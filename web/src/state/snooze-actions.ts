// The snooze actions (issue 14): the only callers of the snooze API and of the workspace
// settings' timezone in the inbox. Built by createApp (state/app.ts) with its state and
// its toast; the change shows at once and the server's events confirm it for everyone.
import { signal } from '@preact/signals'
import { snoozeApi } from '../api/snooze.ts'
import { settingsApi } from '../api/settings.ts'
import type { createInboxState } from './inbox.ts'

export function createSnoozeActions(deps: {
  state: ReturnType<typeof createInboxState>
  flash: (msg: string) => void
  describe: (e: unknown) => string
}) {
  const { state } = deps
  /** The workspace's timezone (GET /api/settings/workspace): the presets' 9:00; null until known. */
  const workspaceTimeZone = signal<string | null>(null)
  let loading: Promise<void> | null = null

  function loadWorkspaceTimeZone(): Promise<void> {
    if (workspaceTimeZone.value !== null) return Promise.resolve()
    loading ??= settingsApi
      .workspace()
      .then((r) => {
        workspaceTimeZone.value = r.settings.timezone
      })
      .catch(() => {
        /* the browser's own timezone stands in; the next opening asks again */
      })
      .finally(() => (loading = null))
    return loading
  }

  async function snooze(id: number, until: number) {
    const c = state.conversation(id)
    if (!c) return
    state.applyLocalConversationPatch(id, { status: 'snoozed', snoozedUntil: until })
    try {
      await snoozeApi.snooze(id, until)
    } catch (e) {
      const now = state.conversation(id)
      if (now?.status === 'snoozed' && now.snoozedUntil === until) {
        state.applyLocalConversationPatch(id, { status: c.status, snoozedUntil: c.snoozedUntil })
      }
      deps.flash(`Could not snooze the conversation: ${deps.describe(e)}`)
    }
  }

  return { workspaceTimeZone, loadWorkspaceTimeZone, snooze }
}
