// The one-line text of a message: the conversation list's preview (stored with the
// conversation by the inbox writer), quotes and notifications in the browser. One pure
// module for server and client (the web build imports it), so the two never drift.

/** What a preview is made of: a stored message row and a message DTO both fit. */
export interface Previewable {
  type: string
  text: string | null
  media?: Record<string, unknown> | null
}

/** The conversation list's preview is cut to this many characters. */
export const PREVIEW_MAX = 200

const MEDIA_PREVIEW: Record<string, string> = {
  image: '📷 Photo',
  video: '🎥 Video',
  audio: '🎵 Audio',
  sticker: '💟 Sticker',
  document: '📄 Document',
}

export function previewOf(m: Previewable): string {
  const { type, text } = m
  const media = m.media ?? null
  switch (type) {
    case 'text':
    case 'system':
      return text ?? ''
    case 'template':
      return text || 'Template'
    case 'image':
    case 'video':
    case 'audio':
    case 'sticker':
    case 'document': {
      const label =
        type === 'audio' && media?.voice
          ? '🎤 Voice message'
          : type === 'document' && typeof media?.filename === 'string'
            ? `📄 ${media.filename}`
            : MEDIA_PREVIEW[type]!
      return text ? `${label}: ${text}` : label
    }
    case 'location':
      return text ? `📍 ${text}` : '📍 Location'
    case 'contacts':
      return text ? `👤 ${text}` : '👤 Contact'
    case 'interactive':
    case 'button':
      return text ?? 'Button reply'
    case 'reaction':
      return text ? `Reacted ${text} to a message` : 'Removed a reaction'
    case 'order':
      return '🛒 Order'
    case 'postback':
      return text ?? 'Button tapped'
    case 'link':
      return text ? `🔗 ${text}` : '🔗 Link'
    default:
      return 'Unsupported message'
  }
}

/** The preview as the conversation list stores it. */
export const listPreviewOf = (m: Previewable): string => previewOf(m).slice(0, PREVIEW_MAX)
