// What Settings → Team shows (issue 13): the people and the pending invitations. Signals
// only; settings/actions.ts fills them from the server.
import { signal } from '@preact/signals'
import type { InvitationDTO, TeamUserDTO } from '../api/team.ts'

export function createTeamState() {
  return {
    users: signal<TeamUserDTO[]>([]),
    invitations: signal<InvitationDTO[]>([]),
    status: signal<'loading' | 'ready' | 'error'>('loading'),
  }
}

export type TeamState = ReturnType<typeof createTeamState>

/** The list with this person's new copy in place (or added). */
export function putUser(list: TeamUserDTO[], user: TeamUserDTO): TeamUserDTO[] {
  return list.some((u) => u.id === user.id) ? list.map((u) => (u.id === user.id ? user : u)) : [...list, user]
}
