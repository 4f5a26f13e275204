// The one-time-link pages (a password reset, an invitation): known before anything loads,
// so main.tsx and Root.tsx decide on them without loading the auth screens.
export const RESET_PASSWORD_PATH = '/reset-password'
export const isResetPasswordPath = () => location.pathname === RESET_PASSWORD_PATH
export const INVITE_PATH = '/invite'
export const isInvitePath = () => location.pathname === INVITE_PATH
