// The browser's one JSON client for Parley's REST API (the inbox, settings, contacts,
// campaigns and the sandbox's simulator all call `request`). The browser authenticates
// with the HttpOnly session cookie (never a token in JS); errors arrive as
// `{error: {code, message}}` and are thrown as ApiError.
//
// One 401 rule: a 401 means the session ended (a logout elsewhere, expiry, revocation).
// The client reports it to the page's session handler (the inbox shows the sign-in form
// over the page, which keeps its state and place: state/app.ts, AuthScreens.tsx) and
// throws ApiError(401), so the caller only stops what it was doing. Only the calls that
// sign in or ask whether one is signed in pass `quiet401`: their 401 is an answer.
//
// One direction, kept in the whole client: components → actions → api.
//   - api/ (this client, the endpoint modules, the stream) imports nothing from state/
//     or from a page: it knows shapes on the wire, not what the screens keep.
//   - state modules (signals and pure transitions: state/inbox.ts, campaigns/state.ts,
//     contacts/state.ts) never call the api (they import only the shapes of its answers);
//     they are filled by actions.
//   - actions (state/app.ts, settings/actions.ts, campaigns/actions.ts, contacts/actions.ts,
//     the simulator's sandbox/state.ts and messenger-state.ts)
//     are the only callers of the api: they ask the server and write the answers into
//     the state's signals.
//   - components read signals and call actions; they never call the api. Its types,
//     and ApiError to word a refusal, may be imported anywhere.

export class ApiError extends Error {
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole answer, for refusals that carry more than the error (issue 14: the send guard's `newer`). */
    readonly body?: unknown,
  ) {
    super(message)
  }
}

let onUnauthorized: () => void = () => {}
/** The page's session handler: called when any request answers 401 (the session ended). */
export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn
}

export async function request<T>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const res = await send(method, path, body, opts)
  return (await res.json().catch(() => null)) as T
}

/** A GET whose answer is a file, not JSON (issue 15: a transcript): the answer when it succeeded; refusals as for `request`. */
export const download = (path: string): Promise<Response> => send('GET', path)

async function send(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<Response> {
  let res: Response
  const isForm = typeof FormData !== 'undefined' && body instanceof FormData
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined || isForm ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : isForm ? (body as FormData) : JSON.stringify(body),
    })
  } catch {
    throw new ApiError(0, 'NETWORK', 'Parley could not be reached')
  }
  if (!res.ok) {
    const json = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null
    if (res.status === 401 && !opts.quiet401) onUnauthorized()
    throw new ApiError(
      res.status,
      json?.error?.code ?? `HTTP_${res.status}`,
      json?.error?.message ?? (res.statusText || `HTTP ${res.status}`),
      json,
    )
  }
  return res
}

/** A query string of the given parameters; empty, null and undefined ones are left out. */
export const qs = (params: Record<string, string | number | boolean | null | undefined>) => {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') p.set(k, String(v))
  const s = p.toString()
  return s ? `?${s}` : ''
}

/** An API error in words for the page that asked (the contacts and campaigns pages). */
export const describeError = (e: unknown) => (e instanceof ApiError ? (e.status === 0 ? 'No connection to Parley.' : e.message) : String(e))
