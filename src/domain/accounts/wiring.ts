// The accounts feature's objects, built once in app.ts (issue 13): the team, invitations,
// password reset links and the mailer they share.
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { UnitLog } from '../../events/event-log.ts'
import type { ChannelMembersRepo } from '../../store/channel-members.ts'
import { ChannelsRepo } from '../../store/channels.ts'
import type { ConversationsRepo } from '../../store/conversations.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { SecretBox } from '../../store/secret-box.ts'
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
  /** The app's database (issue 17: SQLite or PostgreSQL). */
  units: UnitRunner
  unitLog: UnitLog
  /** Opens the channels' sealed secrets (issue 16). */
  secrets: SecretBox
  auth: AuthService
  /** The app's channel members (`services.members`, which access checks read too): the team uses its repository's units. */
  members: ChannelMembersRepo
  /** The inbox store's conversations: a person given a channel starts reading it from now. */
  conversations: Pick<ConversationsRepo, 'startReadsAt'>
  now: () => number
  log: FastifyBaseLogger
}): Accounts {
  const { config, units, unitLog, auth, members, conversations, now, log } = deps
  const mailer = createMailer(config, log.child({ subsystem: 'mail' }))
  const channels = new ChannelsRepo(deps.secrets)
  // Channel members, channels and conversations are units already (the same repositories
  // the app runs), so the team's units use them directly (issue 17).
  const repos: TeamRepos = {
    members,
    conversations,
    *channelIds(workspaceId) {
      return (yield* channels.list(workspaceId)).map((c) => c.id)
    },
  }
  const team = new Team(unitLog, auth, now, repos, units)
  return {
    team,
    invitations: new Invitations(unitLog, auth, team, mailer, now, units),
    resets: new PasswordResets({ units }, auth, now),
    mailer,
  }
}
