// A read-only field with a Copy button: webhook URLs, the verify token, an invitation or
// reset link shown once (issue 13).
import { useState } from 'preact/hooks'

export function CopyField({
  label,
  value,
  secret = false,
  attrs,
}: {
  label: string
  value: string
  secret?: boolean
  /** Data attributes for the input instead of the webhook ones (tests select by them). */
  attrs?: Record<string, string>
}) {
  const [copied, setCopied] = useState(false)
  const id = `copy-${label.replace(/\W+/g, '-').toLowerCase()}`
  const copy = async (input: HTMLInputElement | null) => {
    try {
      await navigator.clipboard.writeText(value)
      setCopied(true)
      setTimeout(() => setCopied(false), 2000)
    } catch {
      // No clipboard outside a secure context: select it for Ctrl+C.
      input?.select()
    }
  }
  return (
    <div class="copy-field">
      <label for={id}>{label}</label>
      <div class="copy-row">
        <input
          id={id}
          readOnly
          value={value}
          spellcheck={false}
          {...(attrs ?? (secret ? { 'data-verify-token': '' } : { 'data-webhook-url': value }))}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" class="chip" onClick={(e) => void copy(e.currentTarget.previousElementSibling as HTMLInputElement | null)}>
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  )
}
