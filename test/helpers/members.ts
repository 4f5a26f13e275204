// Test set-up of who works which channel (issue 17): the repositories' units run through
// the app's runner, awaited (a unit neither run nor `yield*`ed does nothing).
import type { Services } from '../../src/services.ts'

/** Replaces the person's channels with these (one transaction). */
export function setMembers(services: Pick<Services, 'units' | 'members'>, userId: number, channelIds: readonly number[]): Promise<void> {
  return services.units.transact(() => services.members.set(userId, channelIds))
}

/** The ids of the workspace's channels. */
export async function channelIdsOf(services: Pick<Services, 'units' | 'channels'>, workspaceId: number): Promise<number[]> {
  return (await services.units.read(() => services.channels.listUnit(workspaceId))).map((c) => c.id)
}
