// The console page: connect to an org's stream with the TypeScript client,
// watch its events, counters and presence, publish test events.
import { useCallback, useEffect, useRef, useState, type JSX } from 'react';
import { RealtimeClient, type ClientStats, type PresenceChange, type Welcome } from '../../js/src/index.ts';
import { RealtimeProvider } from '../../js/src/react.tsx';
import { fetchConfig, type ConsoleConfig } from './api.ts';
import { ConnectPanel, type ConnectOptions } from './ConnectPanel.tsx';
import { EventList, type Row } from './EventList.tsx';
import { readClaims, type Claims } from './jwt.ts';
import { addStats, Live, StatusView, type WelcomeAt } from './Live.tsx';
import { PresencePanel, type PresenceNote } from './PresencePanel.tsx';
import { PublishPanel } from './PublishPanel.tsx';
import { RateChart } from './RateChart.tsx';
import { RateWindow } from './rate.ts';

/** Rows kept in the list. */
export const MAX_ROWS = 200;
/** Presence frames kept in the presence panel. */
export const MAX_PRESENCE_NOTES = 20;

/** One connection of the page: a client of its own, closed by Disconnect. */
interface Session {
  client: RealtimeClient;
  claims: Claims | null;
  opts: ConnectOptions;
}

const zeroStats: ClientStats = { connects: 0, reconnects: 0, resumes: 0, resets: 0, gaps: 0, holes: 0, events: 0, duplicates: 0 };

export function App(): JSX.Element {
  const [config, setConfig] = useState<ConsoleConfig | null>(null);
  const [session, setSession] = useState<Session | null>(null);
  // The counters of the page's closed connections: the view adds the open
  // one's, so they run for the page's life.
  const [baseStats, setBaseStats] = useState<ClientStats>(zeroStats);
  const [welcome, setWelcome] = useState<WelcomeAt | null>(null);
  const [error, setError] = useState('');
  const [presence, setPresence] = useState<PresenceNote[]>([]);
  const presenceKey = useRef(0);
  const feed = useFeed();
  const note = feed.note;

  useEffect(() => {
    fetchConfig().then(setConfig, () => setConfig({ dev: false }));
  }, []);

  const connect = useCallback(
    (token: string, opts: ConnectOptions) => {
      const claims = readClaims(token);
      // The position is kept per org, user and topics in sessionStorage:
      // Disconnect then Connect (or a reload) resumes after the last event
      // shown. Another scope is another stream, with a position of its own.
      const scope = opts.topics.length > 0 ? ':' + opts.topics.join(',') : '';
      const storageKey = `orgstream-console:${claims?.org ?? '?'}:${claims?.sub ?? '?'}${scope}`;
      let first = true;
      const client = new RealtimeClient({
        url: '/',
        token,
        storage: window.sessionStorage,
        storageKey,
        topics: opts.topics,
        transport: opts.transport,
        presence: opts.presence,
        // Connect tickets: the stream URLs (which the browser prints on
        // every failed connect) carry a single-use ticket, never the token.
        tickets: true,
        onWelcome: (w) => {
          setWelcome({ welcome: w, at: Date.now() });
          setError('');
          note(w.resumed ? 'resume' : 'connect', markerText(w, first, client.transport === 'sse' ? 'SSE' : 'WebSocket'));
          first = false;
        },
        onReset: (r) => note('reset', `reset (${r.reason}): missed events up to seq ${r.head} will not be replayed; live from ${r.head + 1} on (oldest retained: ${r.first})`),
        onGap: (g) => note('gap', `hole: expected seq ${g.expected}, got ${g.got}; resuming to check it (a lost event is replayed, a skipped one was not for this stream)`),
        onPresence: (p: PresenceChange) =>
          setPresence((prev) => [{ ...p, key: presenceKey.current++, at: Date.now() }, ...prev].slice(0, MAX_PRESENCE_NOTES)),
        onError: (e) => setError(e.message),
      });
      setWelcome(null);
      setError('');
      setPresence([]);
      setSession({ client, claims, opts });
    },
    [note],
  );

  const disconnect = useCallback(() => {
    if (!session) return;
    const stats = session.client.stats;
    setBaseStats((b) => addStats(b, stats));
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
          <PresencePanel client={session?.client ?? null} frames={session?.opts.presence ?? false} notes={presence} />
        </aside>
        <section className="live">
          {session ? (
            <RealtimeProvider url="/" token="" client={session.client}>
              <Live welcome={welcome} error={error} base={baseStats} onEvent={feed.event} />
            </RealtimeProvider>
          ) : (
            <StatusView state="closed" stats={baseStats} position={null} transport={null} welcome={welcome} error={error} />
          )}
          <RateChart rate={feed.rate} />
          <EventList rows={feed.rows} onClear={feed.clear} max={MAX_ROWS} />
        </section>
      </main>
    </div>
  );
}

/** The marker row of a welcome: "connected …" for the first of a connection, "resumed …" / "reconnected …" after. */
export function markerText(w: Welcome, first: boolean, transport: string): string {
  const via = ` (${transport}${w.scoped ? ', scoped' : ''})`;
  if (w.resumed) {
    const from = w.replay?.from ?? 0;
    const to = w.replay?.to ?? -1;
    const what = to >= from ? `replayed ${from}…${to}` : 'nothing missed';
    return `${first ? 'connected, resumed' : 'reconnected, resumed'} after seq ${from - 1}: ${what}${via}`;
  }
  return `${first ? 'connected' : 'reconnected'}: live from head ${w.head}${via}`;
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
      push({ kind: 'event', key: nextKey.current++, seq: e.seq, topic: e.topic, ts: e.ts, id: e.id, data: e.data, compact: JSON.stringify(e.data) });
    },
    [push, rate],
  );

  const note = useCallback(
    (kind: 'reset' | 'gap' | 'resume' | 'connect', text: string) => push({ kind, key: nextKey.current++, text }),
    [push],
  );

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
