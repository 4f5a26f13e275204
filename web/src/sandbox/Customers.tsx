// The simulated customers, and a form to add one (a number is made up when left empty).
import { useState } from 'preact/hooks'
import type { Simulator } from './state.ts'

export function Customers({ sim }: { sim: Simulator }) {
  const [name, setName] = useState('')
  const [phone, setPhone] = useState('')
  return (
    <nav class="customers" aria-label="Customers">
      <form
        class="new-customer"
        onSubmit={async (e) => {
          e.preventDefault()
          if (!name.trim()) return
          if (await sim.createCustomer(name, phone)) {
            setName('')
            setPhone('')
          }
        }}
      >
        <input value={name} maxLength={100} placeholder="Name" aria-label="Customer name" required onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)} />
        <input
          value={phone}
          maxLength={30}
          inputMode="tel"
          placeholder="Number (optional)"
          aria-label="Customer number"
          onInput={(e) => setPhone((e.currentTarget as HTMLInputElement).value)}
        />
        <button type="submit">Add customer</button>
      </form>
      <ul>
        {sim.people.value.map((c) => (
          <li key={c.phone}>
            <button
              type="button"
              class={c.phone === sim.selected.value ? 'selected' : ''}
              aria-current={c.phone === sim.selected.value ? 'true' : undefined}
              onClick={() => void sim.select(c.phone)}
            >
              <span class="name">{c.name}</span>
              <span class="muted">+{c.phone}</span>
              {c.unread > 0 && (
                <span class="badge" aria-label={`${c.unread} unread`}>
                  {c.unread}
                </span>
              )}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  )
}
