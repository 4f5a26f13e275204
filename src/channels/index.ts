// The channel registry: which provider speaks for each kind of channel. Adding a channel
// is a provider folder (its payloads, its API calls, a class implementing ChannelProvider)
// and one line in PROVIDERS; the outbox, its worker and the campaign runner never ask
// which kind a channel is.
import type { ChannelKind } from '../events/types.ts'
import type { GraphHttp } from './graph-http.ts'
import { MessengerProvider } from './messenger/provider.ts'
import type { ChannelProvider } from './provider.ts'
import { WhatsAppProvider } from './whatsapp/provider.ts'

const PROVIDERS: Record<ChannelKind, (http: GraphHttp) => ChannelProvider> = {
  whatsapp: (http) => new WhatsAppProvider(http),
  messenger: (http) => new MessengerProvider(http),
}

export class ChannelProviders {
  private readonly byKind: Record<ChannelKind, ChannelProvider>

  /** One Graph transport for every provider: per token, Meta or the sandbox's emulator. */
  constructor(http: GraphHttp) {
    this.byKind = Object.fromEntries(Object.entries(PROVIDERS).map(([kind, make]) => [kind, make(http)])) as Record<
      ChannelKind,
      ChannelProvider
    >
  }

  for(kind: ChannelKind): ChannelProvider {
    return this.byKind[kind]
  }
}
