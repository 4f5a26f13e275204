// Invitations (issue 13): an admin invites by email with a role and channels; Parley
// makes a single-use link valid 7 days, shown once (and mailed when SMTP is set). The
// invited person opens /invite#token=…, chooses a name and password, and is signed in.
//
// Like password reset links, the token is 32 random bytes and only its SHA-256 is
// stored; the link carries it in the fragment, which no server or proxy log sees.
import { createHash, randomBytes } from 'node:crypto'
import type { EventLog } from '../../events/event-log.ts'
import { Errors } from '../../errors.ts'
import type { Db } from '../../store/db.ts'
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

export class Invitations {
  private readonly repo: InvitationsRepo
  private readonly users: UsersRepo
  private readonly workspaces: WorkspacesRepo

  constructor(
    db: Db,
    private readonly events: EventLog,
    private readonly auth: AuthService,
    private readonly team: Team,
    private readonly mailer: Mailer,
    private readonly now: () => number,
  ) {
    this.repo = new InvitationsRepo(db)
    this.users = new UsersRepo(db)
    this.workspaces = new WorkspacesRepo(db)
  }

  /**
   * A new invitation; an earlier pending one for the same email stops working. The url
   * is in this answer only (then only its hash exists), and mailed when SMTP is set.
   */
  create(
    workspaceId: number,
    inviterId: number,
    input: { email: string; role: Role; channelIds: number[] },
    baseUrl: string,
  ): { id: number; email: string; role: Role; url: string; expiresAt: number } {
    const email = input.email.trim().toLowerCase()
    if (this.users.byEmail(email)) throw Errors.emailTaken()
    this.team.checkChannels(workspaceId, input.channelIds)
    const token = randomBytes(32).toString('base64url')
    const now = this.now()
    const row = this.repo.insert({
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
    if (this.mailer.enabled) {
      const inviter = this.users.byId(inviterId)?.name ?? 'An admin'
      void this.mailer.send(
        invitationMail({ to: email, inviter, workspace: this.workspaceName(workspaceId), url, expiresAt: row.expiresAt }),
        'invitation',
      )
    }
    return { id: row.id, email, role: row.role, url, expiresAt: row.expiresAt }
  }

  pending(workspaceId: number): InvitationDTO[] {
    const names = new Map(this.users.ofWorkspace(workspaceId).map((u) => [u.id, u.name]))
    return this.repo.pending(workspaceId, this.now()).map((r) => this.dto(r, names))
  }

  revoke(workspaceId: number, id: number): void {
    if (!this.repo.revoke(workspaceId, id, this.now())) throw Errors.notFound('Invitation')
  }

  /** Who invited whom, where; or the named reason the link cannot be used. */
  preview(token: string): InvitationPreview {
    const row = this.usable(token)
    return {
      email: row.email,
      role: row.role,
      workspace: this.workspaceName(row.workspaceId),
      invitedBy: this.users.byId(row.invitedBy)?.name ?? 'An admin',
      expiresAt: row.expiresAt,
    }
  }

  /**
   * Creates the account with the invitation's role and channels. Single use even under a
   * race: the invitation is claimed by a conditional UPDATE in the transaction that
   * creates the user, after the (slow, async) password hash is computed.
   */
  async accept(token: string, name: string, password: string): Promise<UserRow> {
    checkPassword(password)
    const trimmed = name.trim()
    if (!trimmed) throw Errors.nameInvalid()
    const row = this.usable(token)
    if (this.users.byEmail(row.email)) throw Errors.emailTaken()
    const passwordHash = await this.auth.hashPassword(password)
    return this.events.transact((batch) => {
      if (!this.repo.claim(row.id, this.now())) throw Errors.invitationUsed()
      if (this.users.byEmail(row.email)) throw Errors.emailTaken()
      const user = this.users.insert({ workspaceId: row.workspaceId, email: row.email, name: trimmed, passwordHash, role: row.role })
      // Channels deleted since the invitation are simply not memberships (the repo joins on them).
      this.team.setChannels(user.id, JSON.parse(row.channelIds) as number[])
      this.team.emit(batch, row.workspaceId, this.team.dto(user))
      return user
    })
  }

  private usable(token: string): InvitationRow {
    const row = this.repo.byTokenHash(hashToken(token))
    if (!row) throw Errors.invitationInvalid()
    if (row.acceptedAt !== null) throw Errors.invitationUsed()
    if (row.revokedAt !== null) throw Errors.invitationRevoked()
    if (row.expiresAt <= this.now()) throw Errors.invitationExpired()
    return row
  }

  private workspaceName(id: number): string {
    return this.workspaces.name(id) ?? 'Parley'
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
