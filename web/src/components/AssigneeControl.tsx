// The conversation header's assignment (issue 13): who has it, a picker of the members
// of its channel, and "Assign to me" / "Unassign". The change shows at once; the
// server's system line and events confirm it for everyone.
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { assigneeOf } from '../state/team.ts'
import { initials } from '../lib/format.ts'
import { PickMenu } from './PickMenu.tsx'

export function AssigneeControl({ conv }: { conv: ConversationDTO }) {
  const app = useApp()
  const me = app.user.value
  const current = assigneeOf(conv)
  // Read so the menu fills in when the team list arrives (asked for on opening).
  app.people.value
  const mine = current !== null && me !== null && current.id === me.id
  const who = current ? (mine ? 'you' : current.name) : null
  const options = app.assigneesFor(conv.id)
  return (
    <div class="assign" data-assignee-id={current?.id ?? ''}>
      <PickMenu
        class="assignee-picker"
        label={who ? `Assigned to ${who}. Change assignee` : 'Unassigned. Assign to…'}
        onOpen={() => void app.loadPeople()}
        items={[
          { key: '', label: 'Unassigned', checked: current === null, onPick: () => void app.assign(conv.id, null) },
          ...options.map((o) => ({
            key: String(o.id),
            label: me && o.id === me.id ? `${o.name} (you)` : o.name,
            checked: current?.id === o.id,
            onPick: () => void app.assign(conv.id, o),
          })),
        ]}
      >
        {current && (
          <span class={`assignee${mine ? ' mine' : ''}`} aria-hidden="true">
            {initials(current.name)}
          </span>
        )}
        <span class="pick-text">{current ? current.name : 'Unassigned'}</span>
        <span aria-hidden="true">▾</span>
      </PickMenu>
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
