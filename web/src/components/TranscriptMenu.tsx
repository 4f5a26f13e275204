// The conversation header's "⋯" menu for admins (issue 15): Export transcript, as a
// printable HTML page or plain text, with or without the internal notes. Loaded on the
// first conversation an admin opens (out of the inbox's initial JavaScript).
import { useEffect, useRef, useState } from 'preact/hooks'
import type { ConversationDTO } from '../../../src/events/types.ts'
import type { TranscriptFormat } from '../api/transcript.ts'
import { describeError } from '../api/client.ts'
import { exportTranscript } from '../state/transcript-actions.ts'
import { usePopover } from '../lib/popover.ts'
import './transcript.css'

type Phase = { kind: 'idle' } | { kind: 'busy' } | { kind: 'done'; filename: string } | { kind: 'failed'; message: string }

export function ConversationMenu({ conv }: { conv: ConversationDTO }) {
  const [open, setOpen] = useState(false)
  const [exporting, setExporting] = useState(false)
  const [format, setFormat] = useState<TranscriptFormat>('html')
  const [notes, setNotes] = useState(false)
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' })
  const box = useRef<HTMLDivElement>(null)
  usePopover(open, () => setOpen(false), box, { button: '.conv-menu-btn', first: '[role=menuitem]' })
  // Another conversation: the menu starts over.
  useEffect(() => {
    setOpen(false)
    setExporting(false)
    setPhase({ kind: 'idle' })
  }, [conv.id])

  const run = async (e: Event) => {
    e.preventDefault()
    setPhase({ kind: 'busy' })
    try {
      setPhase({ kind: 'done', filename: await exportTranscript(conv.id, { format, notes }) })
    } catch (err) {
      setPhase({ kind: 'failed', message: describeError(err) })
    }
  }

  return (
    <div class="pick conv-menu" ref={box}>
      <button
        type="button"
        class="pick-btn conv-menu-btn"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label="More actions"
        title="More actions"
        onClick={() => setOpen(!open)}
      >
        <span aria-hidden="true">⋯</span>
      </button>
      {open && (
        <div class="pick-menu conv-menu-list" role="menu" aria-label="More actions">
          <button
            type="button"
            role="menuitem"
            data-action="export-transcript"
            aria-expanded={exporting}
            onClick={() => setExporting(!exporting)}
          >
            Export transcript…
          </button>
          {exporting && (
            <form class="transcript-form" aria-label="Export transcript" onSubmit={run}>
              <fieldset>
                <legend>Format</legend>
                <label>
                  <input
                    type="radio"
                    name="transcript-format"
                    value="html"
                    checked={format === 'html'}
                    onChange={() => setFormat('html')}
                  />{' '}
                  HTML (prints well)
                </label>
                <label>
                  <input
                    type="radio"
                    name="transcript-format"
                    value="text"
                    checked={format === 'text'}
                    onChange={() => setFormat('text')}
                  />{' '}
                  Plain text
                </label>
              </fieldset>
              <label>
                <input type="checkbox" name="transcript-notes" checked={notes} onChange={(e) => setNotes(e.currentTarget.checked)} />{' '}
                Include internal notes
              </label>
              <button type="submit" class="transcript-download" disabled={phase.kind === 'busy'}>
                {phase.kind === 'busy' ? 'Preparing…' : 'Download'}
              </button>
              {phase.kind === 'done' && (
                <p class="transcript-status" role="status" data-transcript-saved={phase.filename}>
                  Saved {phase.filename}
                </p>
              )}
              {phase.kind === 'failed' && (
                <p class="transcript-status failed" role="alert">
                  Could not export: {phase.message}
                </p>
              )}
            </form>
          )}
        </div>
      )}
    </div>
  )
}
