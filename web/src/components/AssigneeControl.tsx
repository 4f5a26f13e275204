// The conversation header's assignment (issue 13): who has it, a picker of the members
// of its channel, and "Assign to me" / "Unassign". The change shows at once; the
// server's system line and events confirm it for everyone.
import { useEffect } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { assigneeOf } from '../state/team.ts'

export function AssigneeControl({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const me = app.user.value
  const current = assigneeOf(conv)
  // The team list is asked for once (an agent's 403 falls back to the channels' members).
  useEffect(() => void app.loadPeople(), [])
  app.people.value
  const options = app.assigneesFor(conv.id)
  const mine = current !== null && me !== null && current.id === me.id
  return (
    <div class="assign" data-assignee-id={current?.id ?? ''}>
      <select
        class="assignee-picker"
        aria-label="Assignee"
        title={current ? `Assigned to ${current.name}` : 'Unassigned'}
        value={current ? String(current.id) : ''}
        onChange={(e) => {
          const v = e.currentTarget.value
          const to = v === '' ? null : (options.find((o) => String(o.id) === v) ?? null)
          void app.assign(conv.id, to)
        }}
      >
        <option value="">Unassigned</option>
        {options.map((o) => (
          <option key={o.id} value={String(o.id)}>
            {me && o.id === me.id ? `${o.name} (you)` : o.name}
          </option>
        ))}
      </select>
      {mine ? (
        <button type="button" class="assign-btn" onClick={() => void app.assign(conv.id, null)}>
          Unassign
        </button>
      ) : (
        me && (
          <button type="button" class="assign-btn" onClick={() => app.takeConversation(conv.id)}>
            Assign to me
          </button>
        )
      )}
    </div>
  )
}
