// The connection's state and counters, read through the React hooks of the
// client (inside a RealtimeProvider), and their plain view.
import type { JSX } from 'react';
import type { ClientStats, ConnectionState, Position, RealtimeEvent, Welcome } from '../../js/src/index.ts';
import { useConnectionState, useRealtime, useRealtimeClient, useRealtimeStats } from '../../js/src/react.tsx';

interface LiveProps {
  welcome: Welcome | null;
  error: string;
  onEvent: (e: RealtimeEvent) => void;
}

/** Live subscribes to every event of the provider's client and shows its state. */
export function Live({ welcome, error, onEvent }: LiveProps): JSX.Element {
  useRealtime(onEvent);
  const state = useConnectionState();
  const stats = useRealtimeStats(100);
  const client = useRealtimeClient();
  return <StatusView state={state} stats={stats} position={client.position} welcome={welcome} error={error} />;
}

interface StatusProps {
  state: ConnectionState;
  stats: ClientStats;
  position: Position | null;
  welcome: Welcome | null;
  error: string;
}

const counters: { key: keyof ClientStats; label: string; title: string }[] = [
  { key: 'events', label: 'events', title: 'events delivered, in seq order' },
  { key: 'reconnects', label: 'reconnects', title: 'welcomes after the first one' },
  { key: 'resumes', label: 'resumes', title: 'reconnects that continued after the last seq (resumed: true)' },
  { key: 'resets', label: 'resets', title: 'reset frames: a position the server could not serve' },
  { key: 'gaps', label: 'gaps', title: 'holes in the seqs (should stay 0)' },
];

export function StatusView({ state, stats, position, welcome, error }: StatusProps): JSX.Element {
  return (
    <div className="card status">
      <div className="status-line">
        <span className={`badge state-${state}`} data-testid="state" data-state={state}>
          {state}
        </span>
        <span className="muted" data-testid="position">
          {position ? `epoch ${position.epoch} · last seq ${position.lastSeq}` : 'no position yet'}
        </span>
      </div>
      <dl className="counters">
        {counters.map((c) => (
          <div key={c.key} title={c.title} className={c.key === 'gaps' && stats.gaps > 0 ? 'bad' : undefined}>
            <dt>{c.label}</dt>
            <dd data-testid={`count-${c.key}`}>{stats[c.key]}</dd>
          </div>
        ))}
      </dl>
      {welcome && (
        <p className="muted small" data-testid="welcome">
          {welcome.org}/{welcome.user} · {welcome.conn_id} · head {welcome.head} ·{' '}
          {describeWelcome(welcome)}
        </p>
      )}
      {error && (
        <p className="error small" data-testid="connect-error">
          {error}
        </p>
      )}
    </div>
  );
}

/** "resumed after seq 41, replayed 42…57", "resumed after seq 57, nothing missed", "live from head". */
export function describeWelcome(w: Welcome): string {
  if (!w.resumed || !w.replay) return 'not resumed: live from head on';
  const { from, to } = w.replay;
  return `resumed after seq ${from - 1}, ` + (to >= from ? `replayed ${from}…${to}` : 'nothing missed');
}
