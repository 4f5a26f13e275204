// The people a player plays (WhatsApp customers, Messenger users), with the channel's
// form to add one above the list.
import type { ComponentChildren } from 'preact'

export interface PersonRow {
  id: string
  name: string
  /** How the channel knows them: a phone number, a PSID. */
  detail: string
  /** The business's messages they have not read yet. */
  unread: number
}

export function PeopleList(props: {
  label: string
  people: PersonRow[]
  selected: string | null
  onSelect: (id: string) => unknown
  children: ComponentChildren
}) {
  return (
    <nav class="customers" aria-label={props.label}>
      {props.children}
      <ul>
        {props.people.map((p) => (
          <li key={p.id}>
            <button
              type="button"
              class={p.id === props.selected ? 'selected' : ''}
              aria-current={p.id === props.selected ? 'true' : undefined}
              onClick={() => void props.onSelect(p.id)}
            >
              <span class="name">{p.name}</span>
              <span class="muted">{p.detail}</span>
              {p.unread > 0 && (
                <span class="badge" aria-label={`${p.unread} unread`}>
                  {p.unread}
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  )
}
