// The composer once WhatsApp's 24-hour window has closed: an approved template with a
// field per parameter. Loaded when first needed (Composer.tsx), not with the inbox.
import { useEffect, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import { useApp } from '../state/context.ts'
import { fillTemplate } from '../state/app.ts'
import type { TemplateDTO } from '../api/http.ts'
import { SendGuardBanner } from './SendGuard.tsx'

export function TemplatePicker({ conv, onSent, onBack }: { conv: ConversationDTO; onSent: () => void; onBack?: () => void }) {
  const app = useApp()
  const templates = app.templates.value
  const [chosen, setChosen] = useState<TemplateDTO | null>(null)
  const [body, setBody] = useState<string[]>([])
  const [header, setHeader] = useState<string[]>([])

  useEffect(() => {
    void app.loadTemplates(conv.id)
  }, [conv.id])

  const choose = (key: string) => {
    const t = templates?.find((x) => `${x.name}|${x.language}` === key) ?? null
    setChosen(t)
    setBody(t ? t.bodyParams.map(() => '') : [])
    setHeader(t ? t.headerParams.map(() => '') : [])
  }
  const ready = chosen && body.every((v) => v.trim()) && header.every((v) => v.trim())

  return (
    <form
      class="composer template"
      onSubmit={(e) => {
        e.preventDefault()
        if (!chosen || !ready) return
        app.sendTemplate(conv.id, chosen, body, header)
        choose('')
        onSent()
      }}
    >
      <SendGuardBanner conv={conv} />
      <p class="window-note">
        The customer has not written in the last 24 hours: WhatsApp only delivers an approved template until they reply.
        {onBack && (
          <>
            {' '}
            <button type="button" class="link" onClick={onBack}>
              Back to text
            </button>
          </>
        )}
      </p>
      <label class="tpl-pick">
        Template
        <select value={chosen ? `${chosen.name}|${chosen.language}` : ''} onChange={(e) => choose(e.currentTarget.value)}>
          <option value="">
            {templates === null ? 'Loading templates…' : templates.length ? 'Choose a template' : 'No approved templates'}
          </option>
          {(templates ?? [])
            .filter((t) => t.sendable)
            .map((t) => (
              <option key={`${t.name}|${t.language}`} value={`${t.name}|${t.language}`}>
                {t.name} ({t.language})
              </option>
            ))}
        </select>
      </label>
      {chosen && (
        <>
          {chosen.headerParams.map((p, i) => (
            <label key={`h${i}`} class="tpl-param">
              Header {`{{${p.name}}}`}
              <input
                value={header[i]}
                placeholder={p.example ?? ''}
                onInput={(e) => setHeader(header.map((v, j) => (j === i ? e.currentTarget.value : v)))}
              />
            </label>
          ))}
          {chosen.bodyParams.map((p, i) => (
            <label key={`b${i}`} class="tpl-param">
              {`{{${p.name}}}`}
              <input
                value={body[i]}
                placeholder={p.example ?? ''}
                onInput={(e) => setBody(body.map((v, j) => (j === i ? e.currentTarget.value : v)))}
              />
            </label>
          ))}
          <p class="tpl-preview" aria-label="Preview">
            {[chosen.header && fillTemplate(chosen.header, header), fillTemplate(chosen.body, body), chosen.footer]
              .filter(Boolean)
              .join('\n')}
          </p>
        </>
      )}
      <button type="submit" class="primary" disabled={!ready}>
        Send template
      </button>
    </form>
  )
}
