// React bindings of @orgstream/client: one shared client (one WebSocket) per
// (url, storageKey, org of a string token) and tab, StrictMode-safe, and hooks
// to read it.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useLayoutEffect,
  useReducer,
  useRef,
  useSyncExternalStore,
  type JSX,
  type ReactNode,
} from 'react';
import { RealtimeClient } from './client.js';
import { tokenOrg } from './token.js';
import type { TransportMode } from './transport.js';
import type { ClientStats, ConnectionState, PresenceChange, RealtimeEvent, TokenSource } from './types.js';

const ClientContext = createContext<RealtimeClient | null>(null);

/**
 * A shared client of the registry. refs counts the mounted providers that use
 * it; the last release closes it one macrotask later unless a provider
 * acquires it again meanwhile, which is what StrictMode's
 * mount → unmount → remount of effects does (synchronously, in one commit).
 * An entry created by a render (peek) is closed ORPHAN_CLOSE_MS later unless
 * an effect acquires it first: a render React discards (an error, a suspended
 * tree, an interrupted concurrent render) runs no effect and no cleanup.
 */
interface Entry {
  readonly key: string;
  readonly client: RealtimeClient;
  refs: number;
  closeTimer: ReturnType<typeof setTimeout> | null;
  /** The latest token prop; the client reads it through a function. */
  token: TokenSource;
  readonly tokenFn: () => string | Promise<string>;
}

const registry = new Map<string, Entry>();

/**
 * How long an entry created by a render waits for its provider's effect. Any
 * delay is correct (an effect that finds its entry closed makes a new one and
 * re-renders); a long one only keeps the unconnected client of a discarded
 * render around longer.
 */
export const ORPHAN_CLOSE_MS = 1_000;

interface EntryArgs {
  url: string;
  token: TokenSource;
  storage: Storage | null;
  storageKey: string;
  stream: StreamProps;
}

/** What a provider's stream asks for (see ClientOptions); part of the sharing key. */
interface StreamProps {
  topics?: readonly string[];
  presence?: boolean;
  transport?: TransportMode;
  trustHoles?: boolean;
}

function newEntry(key: string, a: EntryArgs): Entry {
  const entry: Entry = {
    key,
    refs: 0,
    closeTimer: null,
    token: a.token,
    tokenFn: () => {
      const t = entry.token;
      return typeof t === 'string' ? t : t();
    },
    client: undefined as unknown as RealtimeClient,
  };
  (entry as { client: RealtimeClient }).client = new RealtimeClient({
    url: a.url,
    token: entry.tokenFn,
    storage: a.storage,
    storageKey: a.storageKey,
    ...a.stream,
  });
  registry.set(key, entry);
  return entry;
}

/**
 * The registered entry for key, created (not connected, not counted, closed
 * after ORPHAN_CLOSE_MS unless acquired) if there is none. Safe in render.
 */
function peek(key: string, a: EntryArgs): Entry {
  const found = registry.get(key);
  if (found) return found;
  const entry = newEntry(key, a);
  scheduleClose(entry, ORPHAN_CLOSE_MS);
  return entry;
}

/**
 * Counts one more user of the entry for key: the one render saw, unless the
 * registry closed it meanwhile (then a new one, and the caller re-renders).
 */
function acquire(key: string, a: EntryArgs): Entry {
  const entry = registry.get(key) ?? newEntry(key, a);
  if (entry.closeTimer !== null) {
    clearTimeout(entry.closeTimer);
    entry.closeTimer = null;
  }
  entry.refs++;
  return entry;
}

function release(entry: Entry): void {
  entry.refs--;
  if (entry.refs > 0 || entry.closeTimer !== null) return;
  scheduleClose(entry, 0);
}

/** Closes and unregisters entry after ms, unless acquire() cancels it or it is in use then. */
function scheduleClose(entry: Entry, ms: number): void {
  entry.closeTimer = setTimeout(() => {
    entry.closeTimer = null;
    if (entry.refs > 0) return;
    if (registry.get(entry.key) === entry) registry.delete(entry.key);
    entry.client.close();
  }, ms);
}

/** Number of shared clients alive in the registry (for tests and debugging). */
export function sharedClientCount(): number {
  return registry.size;
}

export interface RealtimeProviderProps {
  url: string;
  /**
   * A string token or a function (see TokenSource). The org claim of a string
   * token is part of the sharing key; a function's org is not known before it
   * is called, so providers with token functions are keyed by url and
   * storageKey only: give each org its own storageKey.
   */
  token: TokenSource;
  storage?: Storage | null;
  /** Default 'orgstream:' + url; also part of the sharing key. */
  storageKey?: string;
  /**
   * ClientOptions of the stream, part of the sharing key (another scope is
   * another stream). Give a scoped provider its own storageKey: a position
   * is the stream's.
   */
  topics?: readonly string[];
  presence?: boolean;
  transport?: TransportMode;
  trustHoles?: boolean;
  children?: ReactNode;
  /**
   * A client of your own: used as it is (connect() is called on mount), never
   * closed by the provider; url, token and storage are then ignored.
   */
  client?: RealtimeClient;
}

/**
 * RealtimeProvider gives its subtree one client, shared by every provider of
 * the tab with the same url, storageKey and org of a string token (a token
 * function has none): one WebSocket however many providers and hooks. It
 * connects on mount and closes after the last provider unmounts. A new string
 * token of the same org is used from the next connection attempt on; one of
 * another org gets another client. A new token function replaces the old one
 * without asking it for a token: it is called when the client needs one (so
 * an inline `token={() => fetch(…)}` is fine).
 */
export function RealtimeProvider(props: RealtimeProviderProps): JSX.Element {
  const { url, token, storage = null, children, client: given } = props;
  const storageKey = props.storageKey ?? 'orgstream:' + url;
  const org = typeof token === 'string' ? tokenOrg(token) : null;
  const stream: StreamProps = { topics: props.topics, presence: props.presence, transport: props.transport, trustHoles: props.trustHoles };
  const streamKey = [(props.topics ?? []).join(','), props.presence ?? '', props.transport ?? '', props.trustHoles ?? ''].join('\u0001');
  const key = url + '\u0000' + storageKey + '\u0000' + (org ?? '') + '\u0000' + streamKey;
  const args: EntryArgs = { url, token, storage, storageKey, stream };
  const [, rerender] = useReducer((n: number) => n + 1, 0);

  const client = given ?? peek(key, args).client;

  const argsRef = useRef(args);
  argsRef.current = args;

  useEffect(() => {
    if (given) {
      given.connect();
      return undefined;
    }
    const held = acquire(key, argsRef.current);
    if (held.client !== client) rerender();
    held.client.connect();
    return () => release(held);
  }, [key, given, client]);

  useEffect(() => {
    const e = registry.get(key);
    if (given || !e || e.token === token) return;
    const before = e.token;
    e.token = token;
    // entry.tokenFn reads entry.token when the client asks for a token, so a
    // new function needs nothing more (and an inline function, new at each
    // render, must not make each reconnect fetch a token). A new string must
    // replace the one the client cached.
    if (typeof token === 'string' || typeof before === 'string') e.client.setToken(e.tokenFn);
  }, [key, given, token]);

  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/** The client of the nearest RealtimeProvider; throws outside one. */
export function useRealtimeClient(): RealtimeClient {
  const c = useContext(ClientContext);
  if (!c) throw new Error('orgstream: useRealtimeClient needs a <RealtimeProvider> above it');
  return c;
}

const useIsomorphicLayoutEffect = typeof window !== 'undefined' ? useLayoutEffect : useEffect;

/**
 * useRealtime calls handler for each event (of topic, when given: exact or a
 * prefix pattern ending in '*'). The latest handler is used without
 * resubscribing; a new topic resubscribes.
 */
export function useRealtime<T = unknown>(handler: (e: RealtimeEvent<T>) => void, opts?: { topic?: string }): void {
  const client = useRealtimeClient();
  const ref = useRef(handler);
  useIsomorphicLayoutEffect(() => {
    ref.current = handler;
  });
  const topic = opts?.topic;
  useEffect(() => client.subscribe((e) => ref.current(e as RealtimeEvent<T>), { topic }), [client, topic]);
}

/** The client's connection state; re-renders on each change. */
export function useConnectionState(): ConnectionState {
  const client = useRealtimeClient();
  const subscribe = useCallback((cb: () => void) => client.onState(cb), [client]);
  return useSyncExternalStore(subscribe, () => client.state, () => client.state);
}

/** The client's counters; re-renders at most every throttleMs (default 250) while they change. */
export function useRealtimeStats(throttleMs = 250): ClientStats {
  const client = useRealtimeClient();
  const subscribe = useCallback(
    (cb: () => void) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const off = client.onStats(() => {
        if (timer === null) {
          timer = setTimeout(() => {
            timer = null;
            cb();
          }, throttleMs);
        }
      });
      return () => {
        off();
        if (timer !== null) clearTimeout(timer);
      };
    },
    [client, throttleMs],
  );
  return useSyncExternalStore(subscribe, () => client.stats, () => client.stats);
}

export type { ClientStats, ConnectionState, RealtimeEvent, TokenSource } from './types.js';
export { RealtimeClient } from './client.js';

/**
 * usePresence calls handler for each presence frame of the provider's client
 * (a provider with `presence`); the latest handler is used without resubscribing.
 */
export function usePresence(handler: (p: PresenceChange) => void): void {
  const client = useRealtimeClient();
  const ref = useRef(handler);
  useIsomorphicLayoutEffect(() => {
    ref.current = handler;
  });
  useEffect(() => client.onPresenceChange((p) => ref.current(p)), [client]);
}
