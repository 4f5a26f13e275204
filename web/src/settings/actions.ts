// Channel changes from the settings screen: each call goes to the server, and the
// answer (never a secret, only whether one is set) replaces the app's copy, so the
// inbox's badges and channel filter follow at once.
import { ApiError } from '../api/client.ts'
import { api, type ChannelInput, type ChannelPublic } from '../api/http.ts'
import type { App } from '../state/app.ts'

export type ChannelPatch = Partial<Omit<ChannelInput, 'kind' | 'externalId'>>

function put(app: App, ch: ChannelPublic) {
  const list = app.channels.value
  app.channels.value = list.some((c) => c.id === ch.id) ? list.map((c) => (c.id === ch.id ? ch : c)) : [...list, ch]
}

export async function createChannel(app: App, input: ChannelInput): Promise<ChannelPublic> {
  const { channel } = await api.createChannel(input)
  put(app, channel)
  return channel
}

export async function updateChannel(app: App, id: number, patch: ChannelPatch): Promise<ChannelPublic> {
  const { channel } = await api.updateChannel(id, patch)
  put(app, channel)
  return channel
}

/** The server's webhook verify token (admins only), to paste into Meta's App Dashboard. */
export async function loadVerifyToken(): Promise<string> {
  return (await api.verifyToken()).verifyToken
}

/** An API refusal in words an admin can act on (the server's codes, errors.ts and domain/channels.ts). */
export function channelError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  switch (e.code) {
    case 'CHANNEL_EXISTS':
      return 'That number or page is already connected, in this workspace or another one. Each WhatsApp number and each Facebook Page can be connected once.'
    case 'VALIDATION_FAILED':
      return /externalId|businessAccountId/.test(e.message)
        ? 'The IDs must be digits only, exactly as Meta shows them (for example 109876543210987).'
        : /name/.test(e.message)
          ? 'Give the channel a name (up to 100 characters).'
          : 'Some fields are not valid: check the IDs (digits only) and the lengths.'
    case 'FORBIDDEN':
      return 'Only admins can change channels.'
    case 'NOT_FOUND':
      return 'That channel no longer exists. Reload the page to see the current list.'
    case 'NETWORK':
      return 'Parley could not be reached. Check the connection and try again.'
    case 'CROSS_ORIGIN':
      return 'The request came from another site and was refused. Open Parley at its own address and try again.'
    default:
      return e.message
  }
}
