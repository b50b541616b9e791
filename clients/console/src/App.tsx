// The console page: connect to an org's stream with the TypeScript client,
// watch its events and counters, publish test events.
import { useCallback, useEffect, useRef, useState, type JSX } from 'react';
import { RealtimeClient, type ClientStats, type Welcome } from '../../js/src/index.ts';
import { RealtimeProvider } from '../../js/src/react.tsx';
import { fetchConfig, type ConsoleConfig } from './api.ts';
import { ConnectPanel } from './ConnectPanel.tsx';
import { EventList, type Row } from './EventList.tsx';
import { readClaims, type Claims } from './jwt.ts';
import { Live, StatusView } from './Live.tsx';
import { PublishPanel } from './PublishPanel.tsx';
import { RateChart } from './RateChart.tsx';
import { RateWindow } from './rate.ts';

/** Rows kept in the list. */
export const MAX_ROWS = 200;

/** One connection of the page: a client of its own, closed by Disconnect. */
interface Session {
  client: RealtimeClient;
  claims: Claims | null;
}

const zeroStats: ClientStats = { connects: 0, reconnects: 0, resumes: 0, resets: 0, gaps: 0, events: 0, duplicates: 0 };

export function App(): JSX.Element {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  const [lastStats, setLastStats] = useState<ClientStats>(zeroStats);
  const [welcome, setWelcome] = useState<Welcome | null>(null);
  const [error, setError] = useState('');
  const feed = useFeed();
  const note = feed.note;

  useEffect(() => {
    fetchConfig().then(setConfig, () => setConfig({ dev: false }));
  }, []);

  const connect = useCallback(
    (token: string) => {
      const claims = readClaims(token);
      // The position is kept per org and user in sessionStorage: Disconnect
      // then Connect (or a reload) resumes after the last event shown.
      const storageKey = `orgstream-console:${claims?.org ?? '?'}:${claims?.sub ?? '?'}`;
      const client = new RealtimeClient({
        url: '/',
        token,
        storage: window.sessionStorage,
        storageKey,
        onWelcome: (w) => {
          setWelcome(w);
          setError('');
        },
        onReset: (r) => note('reset', `reset (${r.reason}): missed events up to seq ${r.head} will not be replayed; live from ${r.head + 1} on (oldest retained: ${r.first})`),
        onGap: (g) => note('gap', `gap: expected seq ${g.expected}, got ${g.got}`),
        onError: (e) => setError(e.message),
      });
      setWelcome(null);
      setError('');
      setSession({ client, claims });
    },
    [note],
  );

  const disconnect = useCallback(() => {
    if (!session) return;
    setLastStats(session.client.stats);
    session.client.close(); // the provider never closes a client it was given
    setSession(null);
  }, [session]);

  useEffect(() => () => session?.client.close(), [session]);

  return (
    <div className="page">
      <header className="top">
        <h1>orgstream console</h1>
        {config?.dev && (
          <span className="dev-badge" data-testid="dev-badge" title="the daemon runs with --dev: anyone who can reach it can mint tokens">
            dev mode
          </span>
        )}
      </header>
      <main className="grid">
        <aside className="controls">
          <ConnectPanel dev={config?.dev ?? false} connected={session !== null} onConnect={connect} onDisconnect={disconnect} />
          <PublishPanel dev={config?.dev ?? false} sessionOrg={session?.claims?.org} />
        </aside>
        <section className="live">
          {session ? (
            <RealtimeProvider url="/" token="" client={session.client}>
              <Live welcome={welcome} error={error} onEvent={feed.event} />
            </RealtimeProvider>
          ) : (
            <StatusView state="closed" stats={lastStats} position={null} welcome={welcome} error={error} />
          )}
          <RateChart rate={feed.rate} />
          <EventList rows={feed.rows} onClear={feed.clear} max={MAX_ROWS} />
        </section>
      </main>
    </div>
  );
}

/**
 * useFeed keeps the rows of the list and the rate window. Events are
 * buffered and flushed every 50 ms, so a busy org costs one render per flush,
 * not one per event.
 */
function useFeed() {
  const [rows, setRows] = useState<Row[]>([]);
  const pending = useRef<Row[]>([]);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const nextKey = useRef(0);
  const rate = useRef(new RateWindow(60)).current;

  const flush = useCallback(() => {
    timer.current = null;
    const batch = pending.current;
    pending.current = [];
    if (batch.length === 0) return;
    setRows((prev) => [...batch.reverse(), ...prev].slice(0, MAX_ROWS));
  }, []);

  const push = useCallback(
    (r: Row) => {
      pending.current.push(r);
      if (pending.current.length > MAX_ROWS) pending.current.shift();
      timer.current ??= setTimeout(flush, 50);
    },
    [flush],
  );

  const event = useCallback(
    (e: { seq: number; topic: string; ts: string; id?: string; data: unknown }) => {
      rate.add(Date.now());
      push({ kind: 'event', key: nextKey.current++, seq: e.seq, topic: e.topic, ts: e.ts, id: e.id, data: JSON.stringify(e.data) });
    },
    [push, rate],
  );

  const note = useCallback((kind: 'reset' | 'gap', text: string) => push({ kind, key: nextKey.current++, text }), [push]);

  const clear = useCallback(() => {
    pending.current = [];
    setRows([]);
  }, []);

  useEffect(
    () => () => {
      if (timer.current !== null) clearTimeout(timer.current);
    },
    [],
  );

  return { rows, rate, event, note, clear };
}
