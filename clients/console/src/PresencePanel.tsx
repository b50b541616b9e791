// Who is online in the connected org: GET …/presence (cluster-wide, fresh
// within 3 s) every few seconds, and the presence frames of a stream opened
// with presence=true as they come.
import { useEffect, useState, type JSX } from 'react';
import type { PresenceChange, PresenceInfo, RealtimeClient } from '../../js/src/index.ts';

/** How often the panel asks the daemon again. */
export const PRESENCE_REFRESH_MS = 3_000;

/** One presence frame as the panel lists it. */
export interface PresenceNote extends PresenceChange {
  key: number;
  at: number;
}

interface Props {
  client: RealtimeClient | null;
  /** The connection asked presence=true. */
  frames: boolean;
  notes: PresenceNote[];
}

export function PresencePanel({ client, frames, notes }: Props): JSX.Element {
  const [info, setInfo] = useState<PresenceInfo | null>(null);
  const [error, setError] = useState('');
  const [at, setAt] = useState(0);

  useEffect(() => {
    setInfo(null);
    setError('');
    if (!client) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const load = () => {
      client.presence(abort.signal).then(
        (p) => {
          setInfo(p);
          setError('');
          setAt(Date.now());
        },
        (e: Error) => {
          if (!abort.signal.aborted) setError(e.message);
        },
      ).finally(() => {
        if (!abort.signal.aborted) timer = setTimeout(load, PRESENCE_REFRESH_MS);
      });
    };
    load();
    return () => {
      abort.abort();
      if (timer !== null) clearTimeout(timer);
    };
  }, [client]);

  return (
    <div className="card presence" data-testid="presence-panel">
      <div className="card-head">
        <h2>Presence</h2>
        <span className="muted small">{client ? `refreshed every ${PRESENCE_REFRESH_MS / 1000} s` : 'connect to see who is online'}</span>
      </div>
      {error && (
        <p className="error small" data-testid="presence-error">
          {error}
        </p>
      )}
      {info && (
        <>
          <p className="small" data-testid="presence-summary">
            {info.users.length} user{info.users.length === 1 ? '' : 's'} · {info.connections} connection{info.connections === 1 ? '' : 's'}
            <span className="muted"> · as of {new Date(at).toLocaleTimeString()}</span>
          </p>
          <ul className="users" data-testid="presence-users">
            {info.users.map((u) => (
              <li key={u.user} data-testid="presence-user" data-user={u.user}>
                <span className="dot" /> {u.user} <span className="muted">×{u.connections}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {frames && (
        <div className="presence-log">
          <p className="muted small">presence frames (presence=true):{notes.length === 0 ? ' none yet' : ''}</p>
          <ul data-testid="presence-frames">
            {notes.map((n) => (
              <li key={n.key} className={`small state-${n.state}`} data-testid="presence-frame">
                {new Date(n.at).toLocaleTimeString()} {n.user} {n.state}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
