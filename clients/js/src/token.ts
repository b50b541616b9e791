/** The claims of a JWT (read, not verified), or null if token is not one. */
function claims(token: string): Record<string, unknown> | null {
  try {
    const part = token.split('.')[1];
    if (!part) return null;
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** tokenExpiresWithin tells whether a JWT's exp (read, not verified) is less than ms away. */
export function tokenExpiresWithin(token: string, ms: number, now: number = Date.now()): boolean {
  const exp = claims(token)?.exp;
  return typeof exp === 'number' && exp * 1000 - now < ms;
}

/** tokenOrg is a JWT's org claim (read, not verified), or null if it has none that can be read. */
export function tokenOrg(token: string): string | null {
  const org = claims(token)?.org;
  return typeof org === 'string' && org !== '' ? org : null;
}
