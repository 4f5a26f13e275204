// Settings actions: channels (issue 6), the team and one's own profile (issue 13).
// Channel changes from the settings screen: each call goes to the server, and the
// answer (never a secret, only whether one is set) replaces the app's copy, so the
// inbox's badges and channel filter follow at once.
import { batch } from '@preact/signals'
import { ApiError } from '../api/client.ts'
import { api, type ChannelInput, type ChannelPatchBody, type ChannelPublic } from '../api/http.ts'
import { teamApi, type NewInvitation, type Role, type TeamUserDTO } from '../api/team.ts'
import type { App } from '../state/app.ts'
import { putUser, type TeamState } from './team-state.ts'

export type ChannelPatch = ChannelPatchBody

function put(app: App, ch: ChannelPublic) {
  const list = app.channels.value
  app.channels.value = list.some((c) => c.id === ch.id) ? list.map((c) => (c.id === ch.id ? ch : c)) : [...list, ch]
}

export async function createChannel(app: App, input: ChannelInput): Promise<ChannelPublic> {
  const { channel } = await api.createChannel(input)
  put(app, channel)
  return channel
}

export async function updateChannel(app: App, id: number, patch: ChannelPatch): Promise<ChannelPublic> {
  const { channel } = await api.updateChannel(id, patch)
  put(app, channel)
  return channel
}

/**
 * A channel's people and automatic assignment (issue 13): `members` replaces its list.
 * Each person's channels in the team's table follow at once (the server changed them too).
 */
export async function saveChannelAssignment(
  app: App,
  team: TeamState,
  id: number,
  body: { autoAssign: boolean; members: number[] },
): Promise<ChannelPublic> {
  const channel = await updateChannel(app, id, body)
  const members = new Set(channel.members ?? body.members)
  team.users.value = team.users.value.map((u) => {
    const has = u.channelIds.includes(id)
    if (has === members.has(u.id)) return u
    return { ...u, channelIds: has ? u.channelIds.filter((c) => c !== id) : [...u.channelIds, id].sort((a, b) => a - b) }
  })
  return channel
}

/** The server's webhook verify token (admins only), to paste into Meta's App Dashboard. */
export async function loadVerifyToken(): Promise<string> {
  return (await api.verifyToken()).verifyToken
}

/** An API refusal in words an admin can act on (the server's codes, errors.ts and domain/channels.ts). */
export function channelError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  switch (e.code) {
    case 'CHANNEL_EXISTS':
      return 'That number or page is already connected, in this workspace or another one. Each WhatsApp number and each Facebook Page can be connected once.'
    case 'VALIDATION_FAILED':
      return /externalId|businessAccountId/.test(e.message)
        ? 'The IDs must be digits only, exactly as Meta shows them (for example 109876543210987).'
        : /name/.test(e.message)
          ? 'Give the channel a name (up to 100 characters).'
          : 'Some fields are not valid: check the IDs (digits only) and the lengths.'
    case 'FORBIDDEN':
      return 'Only admins can change channels.'
    case 'NOT_FOUND':
      return 'That channel no longer exists. Reload the page to see the current list.'
    case 'NETWORK':
      return 'Parley could not be reached. Check the connection and try again.'
    case 'CROSS_ORIGIN':
      return 'The request came from another site and was refused. Open Parley at its own address and try again.'
    default:
      return e.message
  }
}

// ---- Team and profile (issue 13) ----

/** The people and pending invitations, fresh from the server. */
export async function loadTeam(team: TeamState): Promise<void> {
  try {
    const [{ users }, { invitations }] = await Promise.all([teamApi.users(), teamApi.invitations()])
    batch(() => {
      team.users.value = users
      team.invitations.value = invitations
      team.status.value = 'ready'
    })
  } catch (e) {
    team.status.value = 'error'
    throw e
  }
}

/** Invites someone; the answer's url is shown once (only its hash stays on the server). */
export async function invite(team: TeamState, body: { email: string; role: Role; channelIds: number[] }): Promise<NewInvitation> {
  const { invitation } = await teamApi.invite(body)
  team.invitations.value = (await teamApi.invitations()).invitations
  return invitation
}

export async function revokeInvitation(team: TeamState, id: number): Promise<void> {
  await teamApi.revokeInvitation(id)
  team.invitations.value = team.invitations.value.filter((i) => i.id !== id)
}

export async function updateMember(
  app: App,
  team: TeamState,
  id: number,
  patch: { role?: Role; channelIds?: number[]; disabled?: boolean },
): Promise<TeamUserDTO> {
  const { user } = await teamApi.updateUser(id, patch)
  team.users.value = putUser(team.users.value, user)
  // Their channels changed: each channel's members in the channel settings follow.
  if (patch.channelIds) {
    app.channels.value = app.channels.value.map((c) => {
      if (!c.members || c.members.includes(user.id) === user.channelIds.includes(c.id)) return c
      const members = user.channelIds.includes(c.id)
        ? [...c.members, user.id].sort((a, b) => a - b)
        : c.members.filter((m) => m !== user.id)
      return { ...c, members }
    })
  }
  // My own role changed (another admin took over): the settings follow at once.
  const me = app.user.value
  if (me && me.id === user.id) app.user.value = { ...me, role: user.role, name: user.name }
  return user
}

/** A single-use link (1 hour) for someone who forgot their password, to pass on. */
export async function issueResetLink(id: number): Promise<{ url: string; expiresAt: number }> {
  return teamApi.resetLink(id)
}

/** My own name and password; a new password signs out my other sessions. */
export async function updateProfile(app: App, body: { name?: string; password?: string; currentPassword?: string }): Promise<number> {
  const { user, sessionsEnded } = await teamApi.updateMe(body)
  const me = app.user.value
  if (me) app.user.value = { ...me, name: user.name }
  return sessionsEnded
}

/** A refusal from the team routes, in words an admin (or anyone on their profile) can act on. */
export function teamError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  switch (e.code) {
    case 'VALIDATION_FAILED':
      return /email/.test(e.message) ? 'Type an email address, like ana@example.com.' : 'Some fields are not valid.'
    case 'FORBIDDEN':
      return 'Only admins can manage the team.'
    case 'NETWORK':
      return 'Parley could not be reached. Check the connection and try again.'
    default:
      // EMAIL_TAKEN, LAST_ADMIN, CURRENT_PASSWORD_WRONG…: the server's message says what to do.
      return e.message
  }
}
