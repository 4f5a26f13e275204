// Settings → Health (issue 16): the way into the health page for admins, in the settings
// (a chunk loaded on first use), so the inbox's initial JavaScript carries only the route.
import { navigate } from '../lib/nav.ts'

export function HealthLink() {
  return (
    <section class="settings-section" aria-labelledby="health-heading">
      <h2 id="health-heading">Health</h2>
      <p>
        Whether webhooks arrive and pass their signature check, token errors, the send queue, disk space and backups, live, with what to do
        about anything red.{' '}
        <a href="/health" onClick={(e) => navigate('/health', e)}>
          Open health
        </a>
      </p>
    </section>
  )
}
