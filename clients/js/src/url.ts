/** The stream path of PROTOCOL.md. */
export const STREAM_PATH = '/v2/realtime/stream';

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
  const path = u.pathname.replace(/\/+$/, '');
  u.pathname = path.endsWith(STREAM_PATH) ? path : path + STREAM_PATH;
  for (const k of ['access_token', 'last_seq', 'epoch']) u.searchParams.delete(k);
  return u;
}

/** streamURL is the URL of one connection attempt. */
export function streamURL(base: URL, token: string, resume: { lastSeq: number; epoch: string } | null): string {
  const u = new URL(base.href);
  u.searchParams.set('access_token', token);
  if (resume) {
    u.searchParams.set('last_seq', String(resume.lastSeq));
    if (resume.epoch !== '') u.searchParams.set('epoch', resume.epoch);
  }
  return u.href;
}
