// Outgoing mail (issue 13): invitations and "forgot password" links, through the SMTP
// server named by SMTP_URL (nodemailer). Without SMTP_URL nothing is mailed and the
// links are shown to the admin instead.
//
// Sending never blocks or fails the request that asked for it: the mail is handed to a
// background promise and a failure is logged — with the recipient and the SMTP error,
// never the link (its token is a credential).
import nodemailer, { type Transporter } from 'nodemailer'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'

export interface Mail {
  to: string
  subject: string
  text: string
}

export interface Mailer {
  /** Whether mail goes out (SMTP_URL is set): the sign-in page offers "Forgot password?" only then. */
  readonly enabled: boolean
  /** Queues the mail; resolves when it was handed to the SMTP server or the failure was logged. */
  send(mail: Mail, what: string): Promise<void>
  close(): void
}

// An SMTP server that accepts the connection and then never answers must not hold a
// socket for minutes (nodemailer's defaults are 2 and 10 minutes).
const SMTP_TIMEOUT_MS = 30_000

export function createMailer(config: Readonly<Config>, log: FastifyBaseLogger): Mailer {
  const { smtpUrl, from } = config.mail
  if (!smtpUrl) {
    return { enabled: false, send: async () => {}, close: () => {} }
  }
  const transport: Transporter = nodemailer.createTransport({
    url: smtpUrl,
    connectionTimeout: SMTP_TIMEOUT_MS,
    greetingTimeout: SMTP_TIMEOUT_MS,
    socketTimeout: SMTP_TIMEOUT_MS,
  })
  const inFlight = new Set<Promise<void>>()
  return {
    enabled: true,
    send(mail, what) {
      const p = transport
        .sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text })
        .then(
          () => log.info({ to: mail.to, what }, 'mail sent'),
          // err.message of nodemailer names the server's answer, not our message body.
          (err: Error) => log.warn({ to: mail.to, what, reason: err.message }, 'mail could not be sent'),
        )
        .finally(() => inFlight.delete(p))
      inFlight.add(p)
      return p
    },
    close: () => transport.close(),
  }
}

/** The invitation mail: who invited, where, the link and until when. */
export function invitationMail(input: { to: string; inviter: string; workspace: string; url: string; expiresAt: number }): Mail {
  return {
    to: input.to,
    subject: `${input.inviter} invited you to ${input.workspace} on Parley`,
    text: [
      `${input.inviter} invited you to join ${input.workspace} on Parley, the team inbox.`,
      '',
      'Open this link to choose your name and password:',
      '',
      input.url,
      '',
      `It works once, until ${new Date(input.expiresAt).toUTCString()}.`,
      'If you did not expect it, ignore this mail.',
    ].join('\n'),
  }
}

/** The "forgot password" mail. */
export function passwordResetMail(input: { to: string; url: string; expiresAt: number }): Mail {
  return {
    to: input.to,
    subject: 'Choose a new Parley password',
    text: [
      'Someone (hopefully you) asked to choose a new password for this address on Parley.',
      '',
      'Open this link to choose it:',
      '',
      input.url,
      '',
      `It works once, until ${new Date(input.expiresAt).toUTCString()}.`,
      'If you did not ask, ignore this mail: your password stays as it is.',
    ].join('\n'),
  }
}
