// The daemon's HTTP routes the console uses besides the stream: its config,
// dev token minting (--dev only) and publishing. Errors come back as the
// daemon's JSON error body {"error","code"}.

/** GET /v2/console/config. */
export interface ConsoleConfig {
  /** The daemon runs with --dev: POST /v2/dev/tokens mints tokens. */
  dev: boolean;
}

/** An answer of the daemon: the status and the parsed JSON body (or the text). */
export interface Answer<T> {
  status: number;
  ok: boolean;
  body: T | ErrorBody;
  text: string;
}

export interface ErrorBody {
  error: string;
  code: string;
}

async function call<T>(path: string, init?: RequestInit): Promise<Answer<T>> {
  const resp = await fetch(path, { cache: 'no-store', ...init });
  const text = await resp.text();
  let body: T | ErrorBody;
  try {
    body = JSON.parse(text) as T | ErrorBody;
  } catch {
    body = { error: text || resp.statusText, code: 'not_json' };
  }
  return { status: resp.status, ok: resp.ok, body, text };
}

export async function fetchConfig(): Promise<ConsoleConfig> {
  const a = await call<ConsoleConfig>('/v2/console/config');
  return a.ok ? (a.body as ConsoleConfig) : { dev: false };
}

export type Scope = 'subscribe' | 'publish';

export interface Minted {
  token: string;
  /** Expiry, unix seconds. */
  exp: number;
}

/** POST /v2/dev/tokens: a token for (org, sub) signed by the daemon (--dev only). */
export async function mintToken(org: string, sub: string, scope: Scope, ttl = '1h'): Promise<Minted> {
  const a = await call<Minted>('/v2/dev/tokens', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ org, sub, scope, ttl }),
  });
  if (!a.ok) throw new Error(describeError(a));
  return a.body as Minted;
}

/** POST /v2/realtime/orgs/{org}/events with a publish token; body is sent as it is. */
export function publish(org: string, token: string, body: string): Promise<Answer<{ seq?: number; seqs?: number[] }>> {
  return call(`/v2/realtime/orgs/${encodeURIComponent(org)}/events`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token },
    body,
  });
}

/** "401 missing_token: missing token" for an error answer. */
export function describeError(a: Answer<unknown>): string {
  const b = a.body as Partial<ErrorBody>;
  if (b && typeof b.code === 'string') return `${a.status} ${b.code}: ${b.error ?? ''}`;
  return `${a.status}: ${a.text}`;
}
