// Reads the claims of a token for display. Nothing here verifies anything:
// the daemon does.

export interface Claims {
  sub?: string;
  org?: string;
  scope?: string;
  /** Expiry, unix seconds. */
  exp?: number;
}

/** The claims of a JWT, or null if it does not look like one. */
export function readClaims(token: string): Claims | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = new TextDecoder().decode(Uint8Array.from(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, '=')), (c) => c.charCodeAt(0)));
    const v = JSON.parse(json) as unknown;
    return v !== null && typeof v === 'object' ? (v as Claims) : null;
  } catch {
    return null;
  }
}

/** "in 59 min", "expired 3 s ago". */
export function expiresIn(exp: number | undefined, nowMs: number): string {
  if (exp === undefined) return 'no expiry';
  const s = Math.round(exp - nowMs / 1000);
  const span = (x: number) => (x >= 5400 ? `${Math.round(x / 3600)} h` : x >= 90 ? `${Math.round(x / 60)} min` : `${x} s`);
  return s > 0 ? `expires in ${span(s)}` : `expired ${span(-s)} ago`;
}
