// The connection's state and counters, read through the React hooks of the
// client (inside a RealtimeProvider), and their plain view.
import type { JSX } from 'react';
import type { ClientStats, ConnectionState, Position, RealtimeEvent, Transport, Welcome } from '../../js/src/index.ts';
import { useConnectionState, useRealtime, useRealtimeClient, useRealtimeStats } from '../../js/src/react.tsx';
import { useNow } from './ConnectPanel.tsx';

/** A welcome and when it came: the line about it is "as of connect". */
export interface WelcomeAt {
  welcome: Welcome;
  at: number;
}

interface LiveProps {
  welcome: WelcomeAt | null;
  error: string;
  /** The counters of the page's earlier connections: the view shows the page's totals. */
  base: ClientStats;
  onEvent: (e: RealtimeEvent) => void;
}

/** Live subscribes to every event of the provider's client and shows its state. */
export function Live({ welcome, error, base, onEvent }: LiveProps): JSX.Element {
  useRealtime(onEvent);
  const state = useConnectionState();
  const stats = useRealtimeStats(100);
  const client = useRealtimeClient();
  const now = useNow(state === 'open' ? 60_000 : 200);
  const next = client.nextAttemptAt;
  return (
    <StatusView
      state={state}
      stats={addStats(base, stats)}
      position={client.position}
      transport={client.transport}
      welcome={welcome}
      error={error}
      retryInMs={state !== 'open' && next !== null ? Math.max(0, next - now) : null}
      onRetryNow={() => client.retryNow()}
    />
  );
}

/** addStats sums two sets of counters. */
export function addStats(a: ClientStats, b: ClientStats): ClientStats {
  const out = { ...a };
  for (const k of Object.keys(out) as (keyof ClientStats)[]) out[k] = a[k] + (b[k] ?? 0);
  return out;
}

interface StatusProps {
  state: ConnectionState;
  stats: ClientStats;
  position: Position | null;
  transport: Transport | null;
  welcome: WelcomeAt | null;
  error: string;
  /** A reconnect is pending in this many ms (null: none). */
  retryInMs?: number | null;
  onRetryNow?: () => void;
}

const counters: { key: keyof ClientStats; label: string; title: string }[] = [
  { key: 'events', label: 'events', title: 'events delivered, in seq order, since the page was loaded' },
  { key: 'reconnects', label: 'reconnects', title: 'welcomes after the first one of a connection (Disconnect → Connect does not count)' },
  { key: 'resumes', label: 'resumes', title: 'connections that continued after the last seq (resumed: true)' },
  { key: 'resets', label: 'resets', title: 'reset frames: a position the server could not serve' },
  { key: 'gaps', label: 'gaps', title: 'holes that made the client resume to check them (a lost event is then replayed)' },
  { key: 'holes', label: 'holes', title: 'seqs skipped legitimately: a scoped stream, or an event sent `to` other users' },
];

export function StatusView({ state, stats, position, transport, welcome, error, retryInMs = null, onRetryNow }: StatusProps): JSX.Element {
  return (
    <div className="card status">
      <div className="status-line">
        <span className={`badge state-${state}`} data-testid="state" data-state={state}>
          {state}
        </span>
        {transport && state !== 'closed' && (
          <span className="badge transport" data-testid="transport" data-transport={transport}>
            {transport === 'sse' ? 'SSE' : 'WebSocket'}
          </span>
        )}
        <span className="muted" data-testid="position">
          {position ? `epoch ${position.epoch} · last seq ${position.lastSeq}` : 'no position yet'}
        </span>
      </div>
      {retryInMs !== null && (
        <p className="retry small" data-testid="retry">
          <span data-testid="retry-countdown">reconnecting in {(retryInMs / 1000).toFixed(1)} s</span>
          <button type="button" onClick={onRetryNow} data-testid="retry-now">
            retry now
          </button>
        </p>
      )}
      <dl className="counters" title="since the page was loaded">
        {counters.map((c) => (
          <div key={c.key} title={c.title} className={c.key === 'gaps' && stats.gaps > 0 ? 'warn' : undefined}>
            <dt>{c.label}</dt>
            <dd data-testid={`count-${c.key}`}>{stats[c.key]}</dd>
          </div>
        ))}
      </dl>
      {welcome && (
        <p className="muted small" data-testid="welcome">
          <span className="label">as of connect ({new Date(welcome.at).toLocaleTimeString()}):</span> {welcome.welcome.org}/{welcome.welcome.user} ·{' '}
          {welcome.welcome.conn_id} · head {welcome.welcome.head}
          {welcome.welcome.scoped ? ' · scoped' : ''} · {describeWelcome(welcome.welcome)}
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
