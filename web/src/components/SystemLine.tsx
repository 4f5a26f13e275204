// A line of the team's own activity in the timeline, centred like a day separator:
// "Ana resolved this · 10:42", "Ana assigned this to Ben · 10:42" (issue 13). Worded
// here from the line's data (who, what, to whom); the stored text is the fallback.
import type { MessageDTO } from '../../../src/events/types.ts'
import { timeOf } from '../lib/format.ts'
import { assignmentWords, type LineData } from '../state/team.ts'
import { snoozeWords } from '../state/snooze.ts'

function words(m: MessageDTO): string {
  const d = m.data as LineData | null
  const who = typeof d?.actor?.name === 'string' ? d.actor.name : null
  if (who && d?.action === 'resolved') return `${who} resolved this`
  if (who && d?.action === 'reopened') return `${who} reopened this`
  return snoozeWords(d, m.timestamp) ?? assignmentWords(d) ?? m.text ?? ''
}

export function SystemLine({ m }: { m: MessageDTO }) {
  return (
    <div class="system-line" role="note" data-message-id={m.id} data-action={(m.data as LineData | null)?.action}>
      <span>
        {words(m)} · <time dateTime={new Date(m.timestamp).toISOString()}>{timeOf(m.timestamp)}</time>
      </span>
    </div>
  )
}
