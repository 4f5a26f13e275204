// The accounts feature's objects, built once in app.ts (issue 13): the team, invitations,
// password reset links and the mailer they share.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { EventLog } from '../../events/event-log.ts'
import type { Db } from '../../store/db.ts'
import type { AuthService } from './auth.ts'
import { Invitations } from './invitations.ts'
import { createMailer, type Mailer } from './mailer.ts'
import { PasswordResets } from './password-reset.ts'
import { Team, type TeamRepos } from './team.ts'

export interface Accounts {
  team: Team
  invitations: Invitations
  resets: PasswordResets
  mailer: Mailer
}

export function createAccounts(deps: {
  config: Readonly<Config>
  db: Db
  events: EventLog
  auth: AuthService
  /** The app's channel members and the inbox store's conversations (see TeamRepos). */
  members: TeamRepos['members']
  conversations: TeamRepos['conversations']
  now: () => number
  log: FastifyBaseLogger
}): Accounts {
  const { config, db, events, auth, members, conversations, now, log } = deps
  const mailer = createMailer(config, log.child({ subsystem: 'mail' }))
  const team = new Team(db, events, auth, now, { members, conversations })
  return {
    team,
    invitations: new Invitations(db, events, auth, team, mailer, now),
    resets: new PasswordResets(db, auth, now),
    mailer,
  }
}
