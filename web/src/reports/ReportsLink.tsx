// Settings → Reports (issue 15): the way into the reports page for admins. In the settings,
// which load on first use, so the inbox's initial JavaScript carries no more than the route.
import { navigate } from '../lib/nav.ts'

export function ReportsLink() {
  return (
    <section class="settings-section" aria-labelledby="reports-heading">
      <h2 id="reports-heading">Reports</h2>
      <p>
        Conversations opened and resolved, response and resolution times, who is waiting, per day, week, agent or channel, with CSV exports.{' '}
        <a href="/reports" onClick={(e) => navigate('/reports', e)}>
          Open reports
        </a>
      </p>
    </section>
  )
}
