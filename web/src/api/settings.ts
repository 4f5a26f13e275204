// The workspace settings API (issue 13) on the one client (client.ts): the assignment
// cap, business hours with their timezone, and the automatic replies' texts.
import type { WorkspaceSettings } from '../../../src/store/workspace-settings.ts'
import type { BusinessHours, OpenRange, Weekday } from '../../../src/domain/team/business-hours.ts'
import { request } from './client.ts'

export type { BusinessHours, OpenRange, Weekday, WorkspaceSettings }

export const settingsApi = {
  workspace: () => request<{ settings: WorkspaceSettings }>('GET', '/api/settings/workspace'),
  updateWorkspace: (patch: Partial<WorkspaceSettings>) =>
    request<{ settings: WorkspaceSettings }>('PATCH', '/api/settings/workspace', patch),
}
