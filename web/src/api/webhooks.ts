// The outgoing webhooks API (issue 16) on the one client (client.ts): admins add, list and
// delete endpoints and read each one's recent delivery attempts.
import type { WebhookDeliveryDTO, WebhookEndpointDTO } from '../../../src/domain/webhooks/webhooks.ts'
import { request } from './client.ts'

export type { WebhookDeliveryDTO, WebhookEndpointDTO }

export const webhooksApi = {
  list: () => request<{ endpoints: WebhookEndpointDTO[] }>('GET', '/api/webhook-endpoints'),
  /** The secret is in this answer only. */
  create: (body: { url: string; events: string[] }) =>
    request<{ endpoint: WebhookEndpointDTO & { secret: string } }>('POST', '/api/webhook-endpoints', body),
  remove: (id: number) => request<null>('DELETE', `/api/webhook-endpoints/${id}`),
  deliveries: (id: number) => request<{ deliveries: WebhookDeliveryDTO[] }>('GET', `/api/webhook-endpoints/${id}/deliveries?limit=50`),
}
