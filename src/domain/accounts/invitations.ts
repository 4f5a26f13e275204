// Invitations (issue 13): an admin invites by email with a role and channels; Parley
// makes a single-use link valid 7 days, shown once (and mailed when SMTP is set). The
// invited person opens /invite#token=…, chooses a name and password, and is signed in.
//
// Like password reset links, the token is 32 random bytes and only its SHA-256 is
// stored; the link carries it in the fragment, which no server or proxy log sees.
import { createHash, randomBytes } from 'node:crypto'
import type { Emitter, UnitLog } from '../../events/event-log.ts'
import { Errors } from '../../errors.ts'
import type { UnitRunner } from '../../store/runner.ts'
import type { Q } from '../../store/unit.ts'
import { InvitationsRepo, type InvitationRow } from '../../store/invitations.ts'
import { UsersRepo, WorkspacesRepo, type UserRow } from '../../store/users.ts'
import type { AuthService } from './auth.ts'
import { invitationMail, type Mailer } from './mailer.ts'
import { checkPassword } from './password-reset.ts'
import type { Role, Team } from './team.ts'

/** The issue: "a single-use link valid 7 days" — a week covers a weekend and a holiday. */
export const INVITATION_TTL_MS = 7 * 86400_000
export const INVITE_PATH = '/invite'

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

export interface InvitationDTO {
  id: number
  email: string
  role: Role
  channelIds: number[]
  invitedBy: { id: number; name: string } | null
  createdAt: number
  expiresAt: number
}

/** What the invited person sees before accepting (GET /api/invitations/:token). */
export interface InvitationPreview {
  email: string
  role: Role
  workspace: string
  invitedBy: string
  expiresAt: number
}

export const inviteUrl = (base: string, token: string) => `${base}${INVITE_PATH}#token=${token}`

/** A new invitation as created; `mail` is what `mailInvitation` sends after the commit. */
export interface CreatedInvitation {
  id: number
  email: string
  role: Role
  url: string
  expiresAt: number
}

interface InvitationMail {
  to: string
  inviter: string
  workspace: string
  url: string
  expiresAt: number
}

export class Invitations {
  private readonly repo = new InvitationsRepo()
  private readonly users = new UsersRepo()
  private readonly workspaces = new WorkspacesRepo()

  constructor(
    private readonly unitLog: UnitLog,
    private readonly auth: AuthService,
    private readonly team: Team,
    private readonly mailer: Mailer,
    private readonly now: () => number,
    private readonly units: UnitRunner,
  ) {}

  /**
   * A new invitation, in one transaction; an earlier pending one for the same email stops
   * working. The url is in this answer only (then only its hash exists); send `mail` with
   * `mailInvitation` once it has committed (mailed when SMTP is set).
   */
  *createUnit(
    workspaceId: number,
    inviterId: number,
    input: { email: string; role: Role; channelIds: number[] },
    baseUrl: string,
  ): Q<{ invitation: CreatedInvitation; mail: InvitationMail | undefined }> {
    const email = input.email.trim().toLowerCase()
    if (yield* this.users.byEmail(email)) throw Errors.emailTaken()
    yield* this.team.checkChannelsUnit(workspaceId, input.channelIds)
    const token = randomBytes(32).toString('base64url')
    const now = this.now()
    const row = yield* this.repo.insert({
      workspaceId,
      email,
      role: input.role,
      channelIds: JSON.stringify([...new Set(input.channelIds)]),
      tokenHash: hashToken(token),
      invitedBy: inviterId,
      expiresAt: now + INVITATION_TTL_MS,
      createdAt: now,
    })
    const url = inviteUrl(baseUrl, token)
    let mail: InvitationMail | undefined
    if (this.mailer.enabled) {
      const inviter = (yield* this.users.byId(inviterId))?.name ?? 'An admin'
      mail = { to: email, inviter, workspace: yield* this.workspaceName(workspaceId), url, expiresAt: row.expiresAt }
    }
    return { invitation: { id: row.id, email, role: row.role, url, expiresAt: row.expiresAt }, mail }
  }

  /** Mails the link in the background (never inside a transaction: it is network I/O). */
  mailInvitation(mail: InvitationMail | undefined): void {
    if (mail) void this.mailer.send(invitationMail(mail), 'invitation')
  }

  *pendingUnit(workspaceId: number): Q<InvitationDTO[]> {
    const names = new Map((yield* this.users.ofWorkspace(workspaceId)).map((u) => [u.id, u.name]))
    return (yield* this.repo.pending(workspaceId, this.now())).map((r) => this.dto(r, names))
  }

  *revokeUnit(workspaceId: number, id: number): Q<void> {
    if (!(yield* this.repo.revoke(workspaceId, id, this.now()))) throw Errors.notFound('Invitation')
  }

  /** Who invited whom, where; or the named reason the link cannot be used. */
  *previewUnit(token: string): Q<InvitationPreview> {
    const row = yield* this.usable(token)
    return {
      email: row.email,
      role: row.role,
      workspace: yield* this.workspaceName(row.workspaceId),
      invitedBy: (yield* this.users.byId(row.invitedBy))?.name ?? 'An admin',
      expiresAt: row.expiresAt,
    }
  }

  /**
   * Creates the account with the invitation's role and channels. Single use even under a
   * race: the invitation is claimed by a conditional UPDATE in the transaction that
   * creates the user, after the (slow, async) password hash is computed.
   */
  async accept(
    token: string,
    name: string,
    password: string,
    io: { units: UnitRunner; log: UnitLog } = { units: this.units, log: this.unitLog },
  ): Promise<UserRow> {
    checkPassword(password)
    const trimmed = name.trim()
    if (!trimmed) throw Errors.nameInvalid()
    const row = await io.units.read(() => this.checkAcceptable(token))
    const passwordHash = await this.auth.hashPassword(password)
    return io.log.transact((batch) => this.acceptUnit(batch, row, trimmed, passwordHash))
  }

  private *checkAcceptable(token: string): Q<InvitationRow> {
    const row = yield* this.usable(token)
    if (yield* this.users.byEmail(row.email)) throw Errors.emailTaken()
    return row
  }

  private *acceptUnit(batch: Emitter, row: InvitationRow, name: string, passwordHash: string): Q<UserRow> {
    if (!(yield* this.repo.claim(row.id, this.now()))) throw Errors.invitationUsed()
    // Checked before the insert: PostgreSQL would abort the whole transaction at a unique violation.
    if (yield* this.users.byEmail(row.email)) throw Errors.emailTaken()
    const user = yield* this.users.insert({ workspaceId: row.workspaceId, email: row.email, name, passwordHash, role: row.role })
    // Channels deleted since the invitation are simply not memberships (the repo joins on them).
    const channelIds = JSON.parse(row.channelIds) as number[]
    yield* this.team.setChannelsUnit(user.id, channelIds)
    this.team.emit(batch, row.workspaceId, yield* this.team.dtoUnit(user))
    return user
  }

  private *usable(token: string): Q<InvitationRow> {
    const row = yield* this.repo.byTokenHash(hashToken(token))
    if (!row) throw Errors.invitationInvalid()
    if (row.acceptedAt !== null) throw Errors.invitationUsed()
    if (row.revokedAt !== null) throw Errors.invitationRevoked()
    if (row.expiresAt <= this.now()) throw Errors.invitationExpired()
    return row
  }

  private *workspaceName(id: number): Q<string> {
    return (yield* this.workspaces.name(id)) ?? 'Parley'
  }

  private dto(r: InvitationRow, names: Map<number, string>): InvitationDTO {
    const inviter = names.get(r.invitedBy)
    return {
      id: r.id,
      email: r.email,
      role: r.role,
      channelIds: JSON.parse(r.channelIds) as number[],
      invitedBy: inviter === undefined ? null : { id: r.invitedBy, name: inviter },
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
    }
  }
}
