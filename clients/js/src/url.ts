import { CLIENT_NAME } from './version.js';

/** The stream path of PROTOCOL.md. */
export const STREAM_PATH = '/v2/realtime/stream';
/** The Server-Sent Events path of PROTOCOL.md (v2). */
export const SSE_PATH = '/v2/realtime/sse';

/** Query values the client sets itself on each attempt (dropped from the url option). */
const OWN_PARAMS = ['access_token', 'ticket', 'last_seq', 'epoch', 'topics', 'presence', 'client'];

/**
 * streamBase turns the `url` option into the stream endpoint (without the
 * query values the client adds): http→ws, https→wss, STREAM_PATH appended to
 * the path unless it ends with it already. A path-only URL is resolved
 * against `location` when there is one. Throws on a URL it cannot use.
 */
export function streamBase(url: string): URL {
  const loc = (globalThis as { location?: { href?: string } }).location;
  const u = loc?.href ? new URL(url, loc.href) : new URL(url);
  switch (u.protocol) {
    case 'http:':
      u.protocol = 'ws:';
      break;
    case 'https:':
      u.protocol = 'wss:';
      break;
    case 'ws:':
    case 'wss:':
      break;
    default:
      throw new Error(`orgstream: url scheme ${u.protocol} is not http(s) or ws(s)`);
  }
  u.hash = '';
  let path = u.pathname.replace(/\/+$/, '');
  if (path.endsWith(SSE_PATH)) path = path.slice(0, -SSE_PATH.length);
  u.pathname = path.endsWith(STREAM_PATH) ? path : path + STREAM_PATH;
  for (const k of OWN_PARAMS) u.searchParams.delete(k);
  return u;
}

/** sseBase is the SSE endpoint beside a stream base: ws→http, wss→https, SSE_PATH for STREAM_PATH. */
export function sseBase(stream: URL): URL {
  const u = new URL(stream.href);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.slice(0, -STREAM_PATH.length) + SSE_PATH;
  return u;
}

/**
 * httpBase is the daemon's HTTP root beside a stream base (for the presence
 * and history routes): ws→http, wss→https, STREAM_PATH and the query removed.
 */
export function httpBase(stream: URL): URL {
  const u = new URL(stream.href);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  u.pathname = u.pathname.slice(0, -STREAM_PATH.length) || '/';
  u.search = '';
  return u;
}

/** What an attempt asks for besides the token and the position. */
export interface StreamQuery {
  /** Topic patterns (PROTOCOL.md v2 "Scoped delivery"): query topics=p1,p2. */
  topics?: readonly string[];
  /** presence=true: the stream also carries presence frames. */
  presence?: boolean;
}

/**
 * streamURL is the URL of one connection attempt (of either transport: pass
 * sseBase for SSE). With a connect ticket (PROTOCOL.md "Connect tickets") the
 * URL carries `ticket=` and not the token.
 */
export function streamURL(
  base: URL,
  token: string,
  resume: { lastSeq: number; epoch: string } | null,
  query: StreamQuery = {},
  ticket?: string,
): string {
  const u = new URL(base.href);
  if (ticket !== undefined) u.searchParams.set('ticket', ticket);
  else u.searchParams.set('access_token', token);
  if (resume) {
    u.searchParams.set('last_seq', String(resume.lastSeq));
    if (resume.epoch !== '') u.searchParams.set('epoch', resume.epoch);
  }
  if (query.topics && query.topics.length > 0) u.searchParams.set('topics', query.topics.join(','));
  if (query.presence) u.searchParams.set('presence', 'true');
  u.searchParams.set('client', CLIENT_NAME);
  return u.href;
}
