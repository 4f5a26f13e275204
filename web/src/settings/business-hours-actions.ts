// Business hours and automatic replies from the settings screen (issue 13): load and save
// the workspace's settings, and word the server's refusals for an admin.
import { ApiError } from '../api/client.ts'
import { settingsApi, type WorkspaceSettings } from '../api/settings.ts'

export async function loadWorkspaceSettings(): Promise<WorkspaceSettings> {
  return (await settingsApi.workspace()).settings
}

export async function saveWorkspaceSettings(patch: Partial<WorkspaceSettings>): Promise<WorkspaceSettings> {
  return (await settingsApi.updateWorkspace(patch)).settings
}

/** The browser's own timezones, for the picker (every IANA name the browser knows). */
export function knownTimeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] }
  try {
    return intl.supportedValuesOf?.('timeZone') ?? []
  } catch {
    return []
  }
}

export const browserTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'

export function settingsError(e: unknown): string {
  if (!(e instanceof ApiError)) return String(e)
  switch (e.code) {
    case 'SETTINGS_INVALID':
      return e.message
    case 'VALIDATION_FAILED':
      return /assignmentCap/.test(e.message)
        ? 'The cap is a whole number from 1 to 1000.'
        : /Message/.test(e.message)
          ? 'An automatic reply can hold at most 1024 characters.'
          : 'Some fields are not valid: times are HH:MM and holidays are dates.'
    case 'FORBIDDEN':
      return 'Only admins can change the workspace settings.'
    case 'NETWORK':
      return 'Parley could not be reached. Check the connection and try again.'
    default:
      return e.message
  }
}
