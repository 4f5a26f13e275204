// Settings → Webhooks (issue 16): the screen's calls to the server, and the server's
// refusals worded for an admin.
import { ApiError } from '../api/client.ts'
import { webhooksApi, type WebhookDeliveryDTO, type WebhookEndpointDTO } from '../api/webhooks.ts'

export const loadEndpoints = async (): Promise<WebhookEndpointDTO[]> => (await webhooksApi.list()).endpoints
export const addEndpoint = async (url: string, events: string[]) => (await webhooksApi.create({ url, events })).endpoint
export const deleteEndpoint = (id: number) => webhooksApi.remove(id)
export const loadDeliveries = async (id: number): Promise<WebhookDeliveryDTO[]> => (await webhooksApi.deliveries(id)).deliveries

export function webhookError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  switch (e.code) {
    case 'NETWORK':
      return 'Parley could not be reached. Check the connection and try again.'
    case 'FORBIDDEN':
      return 'Only admins can manage webhooks.'
    case 'VALIDATION_FAILED':
      return 'The address is too long, or too many event types were sent.'
    default:
      // WEBHOOK_URL_INVALID, WEBHOOK_URL_PRIVATE, WEBHOOK_EVENT_UNKNOWN, WEBHOOK_ENDPOINT_LIMIT: the server words them.
      return e.message
  }
}
