// Client message ids: random, so a retried POST is recognised by the server as the
// same message. crypto.randomUUID exists only in secure contexts (https, localhost);
// a LAN install over plain http still has getRandomValues.
export function newClientMessageId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const b = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}
