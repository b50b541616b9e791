// React bindings of @orgstream/client: one shared client (one WebSocket) per
// (url, storageKey) and tab, StrictMode-safe, and hooks to read it.
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
import type { ClientStats, ConnectionState, RealtimeEvent, TokenSource } from './types.js';

const ClientContext = createContext<RealtimeClient | null>(null);

/**
 * A shared client of the registry. refs counts the mounted providers that use
 * it; the last release closes it one macrotask later unless a provider
 * acquires it again meanwhile, which is what StrictMode's
 * mount → unmount → remount of effects does (synchronously, in one commit).
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

interface EntryArgs {
  url: string;
  token: TokenSource;
  storage: Storage | null;
  storageKey: string;
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
  });
  registry.set(key, entry);
  return entry;
}

/** The registered entry for key, created (not connected, not counted) if there is none. Safe in render. */
function peek(key: string, a: EntryArgs): Entry {
  return registry.get(key) ?? newEntry(key, a);
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
  entry.closeTimer = setTimeout(() => {
    entry.closeTimer = null;
    if (entry.refs > 0) return;
    if (registry.get(entry.key) === entry) registry.delete(entry.key);
    entry.client.close();
  }, 0);
}

/** Number of shared clients alive in the registry (for tests and debugging). */
export function sharedClientCount(): number {
  return registry.size;
}

export interface RealtimeProviderProps {
  url: string;
  token: TokenSource;
  storage?: Storage | null;
  /** Default 'orgstream:' + url; also part of the sharing key. */
  storageKey?: string;
  children?: ReactNode;
  /**
   * A client of your own: used as it is (connect() is called on mount), never
   * closed by the provider; url, token and storage are then ignored.
   */
  client?: RealtimeClient;
}

/**
 * RealtimeProvider gives its subtree one client, shared by every provider of
 * the tab with the same url and storageKey: one WebSocket however many
 * providers and hooks. It connects on mount and closes after the last provider
 * unmounts. A new token prop is used from the next connection attempt on.
 */
export function RealtimeProvider(props: RealtimeProviderProps): JSX.Element {
  const { url, token, storage = null, children, client: given } = props;
  const storageKey = props.storageKey ?? 'orgstream:' + url;
  const key = url + '\u0000' + storageKey;
  const args: EntryArgs = { url, token, storage, storageKey };
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
    if (!given && e && e.token !== token) {
      e.token = token;
      e.client.setToken(e.tokenFn);
    }
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
