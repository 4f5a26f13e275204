// One-line text for a message (quotes, notifications): the server's own preview rule.
export { previewOf as previewText } from '../../../src/events/preview.ts'
