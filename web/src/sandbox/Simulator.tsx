// The customer simulator page (/sandbox): pick or create customers, write to the
// business as them, and watch the business's replies arrive with their ticks.
import type { Simulator as Sim } from './state.ts'
import { Customers } from './Customers.tsx'
import { Chat } from './Chat.tsx'
import { Faults } from './Faults.tsx'
import { MessengerIntro, MessengerPlayer, PlayerSwitch, messengerPlayer, playerKind } from './MessengerPlayer.tsx'

export function Simulator({ sim }: { sim: Sim }) {
  switch (sim.phase.value) {
    case 'loading':
      return <p class="notice">Loading the sandbox…</p>
    case 'signed-out':
      return (
        <p class="notice">
          Sign in to the <a href="/">inbox</a> first, then come back to this page.
        </p>
      )
    case 'not-sandbox':
      return (
        <p class="notice">
          This Parley is connected to a real WhatsApp number, so there is no sandbox. Remove WHATSAPP_ACCESS_TOKEN to try Parley with
          simulated customers.
        </p>
      )
    case 'offline':
      return (
        <p class="notice">
          Parley could not be reached.{' '}
          <button type="button" onClick={() => location.reload()}>
            Try again
          </button>
        </p>
      )
  }
  const info = sim.info.value
  const messenger = playerKind.value === 'messenger'
  // The header speaks for the tab shown: its channel, and that player's own stream.
  const live = messenger ? messengerPlayer().live.value : sim.live.value
  return (
    <div class="sim">
      <header class="top">
        <div>
          <h1>Customer simulator</h1>
          {messenger ? (
            <MessengerIntro />
          ) : (
            <p class="muted">
              Sandbox mode: these WhatsApp customers exist only here. They write to the business number +{info?.displayPhoneNumber} through
              signed webhooks, as WhatsApp would.{' '}
              <a href="/" target="parley-inbox">
                Open the inbox
              </a>{' '}
              to answer them.
            </p>
          )}
          <PlayerSwitch />
        </div>
        <span class={`live ${live ? 'on' : ''}`}>{live ? 'Live' : 'Reconnecting…'}</span>
      </header>
      {messenger && <MessengerPlayer />}
      {!messenger && sim.flash.value && (
        <p class="flash" role="status">
          {sim.flash.value}
        </p>
      )}
      {!messenger && (
        <div class="panes">
          <div class="side">
            <Customers sim={sim} />
            <Faults sim={sim} />
          </div>
          <Chat sim={sim} />
        </div>
      )}
    </div>
  )
}
