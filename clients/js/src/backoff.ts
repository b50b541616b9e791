/** Close codes of PROTOCOL.md, and those the client uses itself. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001, // the node drains: reconnect at once, resume
  Abnormal: 1006, // no close frame (network error, refused upgrade)
  Policy: 1008, // the client broke the protocol
  TooBig: 1009, // the client sent too much
  TokenExpired: 4001, // new token, reconnect at once, resume
  SlowConsumer: 4008, // reconnect at once, resume
  TooMany: 4029, // too many connections: back off longer
} as const;

/**
 * backoffDelay is full jitter: random()·min(maxMs, initialMs·2^attempt), in ms.
 * random returns a number in [0, 1).
 */
export function backoffDelay(
  attempt: number,
  opts: { initialMs: number; maxMs: number },
  random: () => number,
): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * Math.pow(2, Math.max(0, attempt)));
  return random() * ceiling;
}

/** What the client does after a connection ends. */
export type ReconnectAction = 'now' | 'backoff' | 'too-many';

/**
 * decideReconnect chooses the next step after a connection ended with `code`
 * (1006 when there was no close frame, e.g. a refused upgrade). 1001, 4008 and
 * 4001 reconnect at once, but only if the connection got its welcome (a server
 * that turns clients away before it must not make them loop hot); 4029 backs
 * off from tooManyMs; everything else, 1008 and 1009 included, backs off.
 */
export function decideReconnect(code: number, welcomed: boolean): ReconnectAction {
  switch (code) {
    case CloseCode.TooMany:
      return 'too-many';
    case CloseCode.GoingAway:
    case CloseCode.SlowConsumer:
    case CloseCode.TokenExpired:
      return welcomed ? 'now' : 'backoff';
  }
  return 'backoff';
}
