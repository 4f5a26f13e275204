import type { MessageDTO } from '../../../src/events/types.ts'
import { sendRecovery } from '../../../src/events/send-recovery.ts'
import { useApp } from '../state/context.ts'

/**
 * Why a reply failed and the one action that can help, by the rule the retry route
 * follows too (send-recovery.ts): Retry, the template picker, a human-agent follow-up,
 * or nothing.
 */
export function Recover({ m }: { m: MessageDTO }) {
  const app = useApp()
  const kind = app.state.conversation(m.conversationId)?.channelKind ?? 'whatsapp'
  const r = sendRecovery(m, kind)
  if (!r) return null
  return (
    <p class="fail-reason" role="alert" data-recovery={r.action}>
      {r.reason}
      {m.error?.code ? ` (code ${m.error.code})` : ''}{' '}
      {r.action === 'retry' && (
        <button type="button" class="link" onClick={() => void app.retryFailed(m)}>
          Retry
        </button>
      )}
      {r.action === 'template' && (
        <button type="button" class="link" onClick={() => app.composeAfterFailure(m, 'template')}>
          Send a template
        </button>
      )}
      {r.action === 'human_agent' && (
        <button type="button" class="link" onClick={() => app.composeAfterFailure(m, 'human_agent')}>
          Follow up as a person
        </button>
      )}
    </p>
  )
}
