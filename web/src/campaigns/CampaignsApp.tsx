// Contacts and campaigns (issue 7): the area's tabs and its routes (the app's top bar is
// the shell's, components/TopBar.tsx).
//   /contacts            contacts: search, tags, opt-out, CSV import
//   /campaigns           the list
//   /campaigns/new       the builder (also /campaigns/:id/edit for a draft)
//   /campaigns/:id       the live view
import { path, navigate } from '../lib/nav.ts'
import { CampaignList } from './CampaignList.tsx'
import { CampaignBuilder } from './CampaignBuilder.tsx'
import { CampaignLive } from './CampaignLive.tsx'
import { ContactsPage } from '../contacts/ContactsPage.tsx'
import './campaigns.css'

export function CampaignsApp() {
  const p = path.value
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
          <CampaignBuilder key="new" />
        ) : edit ? (
          <CampaignBuilder key={`edit-${edit[1]}`} id={Number(edit[1])} />
        ) : live ? (
          <CampaignLive key={live[1]} id={Number(live[1])} />
        ) : (
          <CampaignList />
        )}
      </main>
    </div>
  )
}
