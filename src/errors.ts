// Named error codes, one file, like fastify's lib/errors.js. The edge handler turns
// an AppError into `{error: {code, message}}`; anything else becomes a 500 with a
// generic message — a stack trace never leaves the process.
export class AppError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
    /** Fields sent beside `error` in the answer (issue 14: the send guard's `newer`). */
    readonly extra?: Record<string, unknown>,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

const make = (code: string, statusCode: number, message: string) => () => new AppError(code, statusCode, message)

export const Errors = {
  unauthorized: make('UNAUTHORIZED', 401, 'Authentication required'),
  invalidCredentials: make('INVALID_CREDENTIALS', 401, 'Email or password is incorrect'),
  forbidden: make('FORBIDDEN', 403, 'Not allowed'),
  crossOrigin: make('CROSS_ORIGIN', 403, 'Cross-origin request refused'),
  loginThrottled: make('LOGIN_THROTTLED', 429, 'Too many failed sign-ins; wait a minute and try again'),
  notFound: (what = 'Resource') => new AppError('NOT_FOUND', 404, `${what} not found`),
  badCursor: make('BAD_CURSOR', 400, 'The pagination cursor is not valid'),
  // Search (issue 15): what to fix in the query, in words (never FTS5's own error text).
  badQuery: (why: string) => new AppError('BAD_QUERY', 400, why),
  // Issue 15: a history page is read one way at a time.
  pagingConflict: make('PAGING_CONFLICT', 400, 'Ask for one page at a time: around, cursor or after, not several together'),
  invalidSignature: make('INVALID_SIGNATURE', 401, 'X-Hub-Signature-256 is missing or does not match'),
  malformedJson: make('MALFORMED_JSON', 400, 'The body is not valid JSON'),
  verifyFailed: make('VERIFY_TOKEN_MISMATCH', 403, 'Verification failed'),
  storageUnavailable: make('STORAGE_UNAVAILABLE', 503, 'Could not store the request; try again'),
  shuttingDown: make('SHUTTING_DOWN', 503, 'The server is shutting down; try again'),
  // Sending (issue 4).
  windowClosed: make(
    'WINDOW_CLOSED',
    422,
    'The 24-hour customer service window is closed: the customer has not written in the last 24 hours. Send an approved template instead.',
  ),
  invalidMessage: (why: string) => new AppError('INVALID_MESSAGE', 400, why),
  clientIdReused: make('CLIENT_MESSAGE_ID_REUSED', 409, 'This clientMessageId was already used for a message in another conversation'),
  replyTargetInvalid: make(
    'REPLY_TARGET_INVALID',
    422,
    'The message to quote or react to is not in this conversation or was never delivered to WhatsApp',
  ),
  templateNotFound: make('TEMPLATE_NOT_FOUND', 422, 'No approved template with that name and language'),
  templateParams: (why: string) => new AppError('TEMPLATE_PARAMETERS', 422, why),
  noChannel: make('NO_CHANNEL', 409, 'No WhatsApp number is connected to this workspace'),
  // Messenger (issue 6): 24 h for any reply, then 7 days with the HUMAN_AGENT tag (M-POLICY).
  messengerWindowClosed: make(
    'MESSENGER_WINDOW_CLOSED',
    422,
    'More than 7 days have passed since the customer last wrote on Messenger: the Page cannot message them until they write again.',
  ),
  messengerUnsupported: (what: string) => new AppError('MESSENGER_UNSUPPORTED', 422, `${what} cannot be sent on Messenger`),
  graphUnavailable: make('GRAPH_UNAVAILABLE', 502, 'WhatsApp could not be reached; try again'),
  notRetryable: make('NOT_RETRYABLE', 409, 'Only a failed or unconfirmed message can be sent again'),
  // Issue 11: a failure another attempt cannot fix; the message says why and what to do
  // instead (src/events/send-recovery.ts decides, for the route and the button alike).
  retryRefused: (action: 'template' | 'human_agent' | 'none', reason: string) =>
    new AppError(
      action === 'template' ? 'RETRY_NEEDS_TEMPLATE' : action === 'human_agent' ? 'RETRY_NEEDS_FOLLOW_UP' : 'RETRY_WOULD_FAIL',
      422,
      reason,
    ),
  mediaTypeUnsupported: (why: string) => new AppError('MEDIA_TYPE_UNSUPPORTED', 415, why),
  mediaTooLarge: (why: string) => new AppError('MEDIA_TOO_LARGE', 413, why),
  // Contacts and campaigns (issue 7).
  csvInvalid: (why: string) => new AppError('CSV_INVALID', 400, why),
  contactInvalid: (why: string) => new AppError('CONTACT_INVALID', 400, why),
  campaignInvalid: (why: string) => new AppError('CAMPAIGN_INVALID', 400, why),
  campaignState: (why: string) => new AppError('CAMPAIGN_STATE', 409, why),
  audienceEmpty: make('AUDIENCE_EMPTY', 422, 'No contact matches this audience'),
  // Password reset links (issue 11): each refusal says what to do next.
  resetLinkInvalid: make('RESET_LINK_INVALID', 400, 'This password reset link is not valid. Ask for a new one.'),
  resetLinkExpired: make('RESET_LINK_EXPIRED', 410, 'This password reset link has expired. Ask for a new one.'),
  resetLinkUsed: make('RESET_LINK_USED', 410, 'This password reset link was already used. Sign in, or ask for a new one.'),
  passwordInvalid: (why: string) => new AppError('PASSWORD_INVALID', 400, why),
  // The team (issue 13).
  emailTaken: make('EMAIL_TAKEN', 409, 'Someone already has an account with this email address'),
  lastAdmin: make(
    'LAST_ADMIN',
    409,
    'This is the last active admin: make someone else an admin first, or the workspace would have nobody to manage it',
  ),
  unknownChannel: make('UNKNOWN_CHANNEL', 400, 'One of the channels does not exist in this workspace'),
  currentPasswordRequired: make('CURRENT_PASSWORD_REQUIRED', 400, 'Type your current password to choose a new one'),
  currentPasswordWrong: make('CURRENT_PASSWORD_WRONG', 403, 'The current password is not right'),
  nameInvalid: make('NAME_INVALID', 400, 'The name cannot be empty'),
  userDisabled: make('USER_DISABLED', 409, 'This person is deactivated: reactivate them first'),
  resetRequestsThrottled: make(
    'RESET_REQUESTS_THROTTLED',
    429,
    'A link was asked for this address several times already; check your mail, or wait a quarter of an hour',
  ),
  mailNotConfigured: make('MAIL_NOT_CONFIGURED', 409, 'Parley cannot send mail (SMTP_URL is not set): ask an admin for a reset link'),
  invitationInvalid: make('INVITATION_INVALID', 404, 'This invitation link is not valid. Ask for a new one.'),
  invitationExpired: make('INVITATION_EXPIRED', 410, 'This invitation has expired. Ask whoever invited you for a new one.'),
  invitationUsed: make('INVITATION_USED', 410, 'This invitation was already used. Sign in with the password you chose.'),
  invitationRevoked: make('INVITATION_REVOKED', 410, 'This invitation was withdrawn. Ask whoever invited you for a new one.'),
  // Workspace settings (issue 13): a timezone Intl does not know, hours that overlap or end before they start.
  settingsInvalid: (why: string) => new AppError('SETTINGS_INVALID', 422, why),
  // Assignment (issue 13).
  assigneeNotEligible: make(
    'ASSIGNEE_NOT_ELIGIBLE',
    422,
    'That person cannot be given this conversation: only an active member of its channel, or an admin, can.',
  ),
  // Labels (issue 14).
  labelExists: make('LABEL_EXISTS', 409, 'A label with this name already exists (names are compared without regard to case)'),
  labelNameInvalid: (why: string) => new AppError('LABEL_NAME_INVALID', 422, why),
  labelColorInvalid: make('LABEL_COLOR_INVALID', 422, 'The colour must be written #rrggbb, for example #2563eb'),
  labelLimit: (max: number) => new AppError('LABEL_LIMIT', 409, `A workspace can have at most ${max} labels: delete one first`),
  unknownLabel: make('UNKNOWN_LABEL', 422, 'One of the labels does not exist in this workspace'),
  // Snooze (issue 14): a time in the past, or further than a snooze may last.
  snoozeInvalid: (why: string) => new AppError('SNOOZE_TIME_INVALID', 422, why),
  // Canned replies (issue 14).
  cannedReplyInvalid: (why: string) => new AppError('CANNED_REPLY_INVALID', 400, why),
  shortcutExists: make('SHORTCUT_EXISTS', 409, 'A canned reply you can use already has this shortcut: choose another one'),
  unknownVariable: (message: string) => new AppError('UNKNOWN_VARIABLE', 422, message),
  // Internal notes and mentions (issue 14).
  mentionNoAccess: (who: string, why: string) =>
    new AppError(
      'MENTION_NO_ACCESS',
      422,
      `${who} cannot be mentioned here: ${why}. Leave them out, or ask an admin to add them to the channel.`,
    ),
  mentionUnknown: make('MENTION_UNKNOWN', 422, 'One of the people mentioned is not on this team'),
  noteNotYours: make('NOTE_NOT_YOURS', 403, 'Only the person who wrote a note can delete it'),
  // The send guard (issue 14): what changed since the agent last looked, and who may reply.
  conversationChanged: (message: string, extra: Record<string, unknown>) => new AppError('CONVERSATION_CHANGED', 409, message, extra),
  assigneeOnly: (message: string, extra: Record<string, unknown>) => new AppError('ASSIGNEE_ONLY', 403, message, extra),
  // Reports (issue 15): a date range, grouping or hours the summary cannot use.
  badReportQuery: (why: string) => new AppError('BAD_REPORT_QUERY', 400, why),
  // Personal API tokens (issue 16).
  tokenReadOnly: make('TOKEN_READ_ONLY', 403, 'This API token may only read (GET): create a read-write token to make changes'),
  tokenNotAllowed: make(
    'TOKEN_NOT_ALLOWED',
    403,
    'API tokens cannot manage API tokens or two-factor sign-in: sign in to Parley to do that',
  ),
  tokenNameInvalid: make('TOKEN_NAME_INVALID', 400, 'Give the token a name (what it is for), up to 100 characters'),
  // A contact's data (issue 16): erasure asks for the contact's name or number, typed.
  eraseConfirmMismatch: make(
    'ERASE_CONFIRM_MISMATCH',
    422,
    "Type the contact's name or phone number exactly as shown to confirm the erasure",
  ),
  // Two-factor sign-in (issue 16). At sign-in each answer is a 401 with its own code; on the
  // signed-in person's own 2FA routes a wrong code is a 422 (a 401 there would mean the session ended).
  totpRequired: make('TOTP_REQUIRED', 401, 'Type the 6-digit code from your authenticator app, or a recovery code'),
  totpInvalid: make('TOTP_INVALID', 401, 'That code is not right, or was already used: type the current code from your app'),
  recoveryCodeInvalid: make('RECOVERY_CODE_INVALID', 401, 'That recovery code is not right, or was already used'),
  totpSetupRequired: (setupToken: string) =>
    new AppError('TOTP_SETUP_REQUIRED', 401, 'This workspace requires two-factor sign-in: set it up to continue', { setupToken }),
  setupTokenInvalid: make('SETUP_TOKEN_INVALID', 401, 'This setup has expired: sign in again'),
  totpAlreadyEnabled: make('TOTP_ALREADY_ENABLED', 409, 'Two-factor sign-in is already on: turn it off first to move it to another app'),
  totpNotSetUp: make('TOTP_NOT_SET_UP', 409, 'Start the setup first: it gives the secret for your authenticator app'),
  totpNotEnabled: make('TOTP_NOT_ENABLED', 409, 'Two-factor sign-in is not on for this account'),
  totpCodeWrong: make(
    'TOTP_CODE_WRONG',
    422,
    'That code is not right (or was already used): type the current code from your authenticator app',
  ),
  twoFactorProofRequired: make('TWO_FACTOR_PROOF_REQUIRED', 400, 'Type your password, or a code from your authenticator app, to confirm'),
  twoFactorProofWrong: make('TWO_FACTOR_PROOF_WRONG', 403, 'That password or code is not right'),
  // Outgoing webhooks (issue 16): what is wrong with the URL or the event types, in words.
  webhookUrlInvalid: (why: string) => new AppError('WEBHOOK_URL_INVALID', 422, why),
  webhookUrlPrivate: make(
    'WEBHOOK_URL_PRIVATE',
    422,
    'This address is on this server or its private network; webhooks go to public addresses (WEBHOOK_ALLOW_PRIVATE=true allows private ones)',
  ),
  webhookEventUnknown: (why: string) => new AppError('WEBHOOK_EVENT_UNKNOWN', 422, why),
  webhookEndpointLimit: (max: number) =>
    new AppError('WEBHOOK_ENDPOINT_LIMIT', 409, `A workspace can have at most ${max} webhook endpoints: delete one first`),
} as const
