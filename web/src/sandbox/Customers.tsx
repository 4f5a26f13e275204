// The simulated customers, and a form to add one (a number is made up when left empty).
import { useState } from 'preact/hooks'
import type { Simulator } from './state.ts'
import { PeopleList } from './PeopleList.tsx'

export function Customers({ sim }: { sim: Simulator }) {
  const [name, setName] = useState('')
  const [phone, setPhone] = useState('')
  return (
    <PeopleList
      label="Customers"
      people={sim.people.value.map((c) => ({ id: c.phone, name: c.name, detail: `+${c.phone}`, unread: c.unread }))}
      selected={sim.selected.value}
      onSelect={sim.select}
    >
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
        <input
          value={name}
          maxLength={100}
          placeholder="Name"
          aria-label="Customer name"
          required
          onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
        />
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
    </PeopleList>
  )
}
