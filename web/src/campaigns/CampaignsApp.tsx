// Contacts and campaigns (issue 7): the area's tabs and its routes (the app's top bar is
// the shell's, components/TopBar.tsx).
//   /contacts            contacts: search, tags, opt-out, CSV import
//   /campaigns           the list
//   /campaigns/new       the builder (also /campaigns/:id/edit for a draft)
//   /campaigns/:id       the live view
// Agents (issue 13) read campaigns but never create, edit or control them (the server
// answers 403): their list and live view have no such controls, and the builder's
// addresses show the campaign read-only, or say who can create one.
import { path, navigate } from '../lib/nav.ts'
import { useApp } from '../state/context.ts'
import { CampaignList } from './CampaignList.tsx'
import { CampaignBuilder } from './CampaignBuilder.tsx'
import { CampaignLive } from './CampaignLive.tsx'
import { ContactsPage } from '../contacts/ContactsPage.tsx'
import './campaigns.css'

export function CampaignsApp() {
  const p = path.value
  const readOnly = useApp().user.value?.role === 'agent'
  const edit = /^\/campaigns\/(\d+)\/edit$/.exec(p)
  const live = /^\/campaigns\/(\d+)$/.exec(p)
  const section = p.startsWith('/contacts') ? 'contacts' : 'campaigns'
  return (
    <div class="area">
      <nav class="area-tabs" aria-label="Contacts and campaigns">
        <a href="/contacts" aria-current={section === 'contacts' ? 'page' : undefined} onClick={(e) => navigate('/contacts', e)}>
          Contacts
        </a>
        <a href="/campaigns" aria-current={section === 'campaigns' ? 'page' : undefined} onClick={(e) => navigate('/campaigns', e)}>
          Campaigns
        </a>
      </nav>
      <main class="area-main">
        {section === 'contacts' ? (
          <ContactsPage />
        ) : p === '/campaigns/new' ? (
          readOnly ? (
            <AdminsOnly />
          ) : (
            <CampaignBuilder key="new" />
          )
        ) : edit ? (
          readOnly ? (
            <CampaignLive key={edit[1]} id={Number(edit[1])} readOnly />
          ) : (
            <CampaignBuilder key={`edit-${edit[1]}`} id={Number(edit[1])} />
          )
        ) : live ? (
          <CampaignLive key={live[1]} id={Number(live[1])} readOnly={readOnly} />
        ) : (
          <CampaignList readOnly={readOnly} />
        )}
      </main>
    </div>
  )
}

/** An agent at the builder's address: campaigns are created by admins. */
function AdminsOnly() {
  return (
    <section class="page">
      <div class="page-head">
        <h1>New campaign</h1>
      </div>
      <p class="pane-note" data-read-only>
        Only admins create and send campaigns. You can follow every campaign and its recipients from the list.
      </p>
      <a class="link" href="/campaigns" onClick={(e) => navigate('/campaigns', e)}>
        ← Campaigns
      </a>
    </section>
  )
}
