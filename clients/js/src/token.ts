/** tokenExpiresWithin tells whether a JWT's exp (read, not verified) is less than ms away. */
export function tokenExpiresWithin(token: string, ms: number, now: number = Date.now()): boolean {
  try {
    const part = token.split('.')[1];
    if (!part) return false;
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const exp: unknown = (JSON.parse(json) as Record<string, unknown>).exp;
    return typeof exp === 'number' && exp * 1000 - now < ms;
  } catch {
    return false;
  }
}
