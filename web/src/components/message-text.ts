// One-line text for a message (quotes, notifications), like the server's previewOf.
import type { MessageDTO } from '../../../src/events/types.ts'

const MEDIA: Record<string, string> = {
  image: '📷 Photo',
  video: '🎥 Video',
  audio: '🎵 Audio',
  sticker: '💟 Sticker',
  document: '📄 Document',
}

export function previewText(m: Pick<MessageDTO, 'type' | 'text' | 'media'>): string {
  const text = m.text ?? ''
  switch (m.type) {
    case 'text':
    case 'system':
    case 'template':
      return text
    case 'image':
    case 'video':
    case 'audio':
    case 'sticker':
    case 'document': {
      const filename = typeof m.media?.filename === 'string' ? m.media.filename : null
      const label =
        m.type === 'audio' && m.media?.voice ? '🎤 Voice message' : m.type === 'document' && filename ? `📄 ${filename}` : MEDIA[m.type]!
      return text ? `${label}: ${text}` : label
    }
    case 'location':
      return text ? `📍 ${text}` : '📍 Location'
    case 'contacts':
      return text ? `👤 ${text}` : '👤 Contact'
    case 'interactive':
    case 'button':
      return text || 'Button reply'
    case 'reaction':
      return text ? `Reacted ${text}` : 'Removed a reaction'
    case 'order':
      return '🛒 Order'
    default:
      return text || 'Unsupported message'
  }
}
