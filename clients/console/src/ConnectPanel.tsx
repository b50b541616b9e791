// Token and connection: paste a token, or mint one (--dev), choose the
// stream's topics, transport and presence frames, then connect.
import { useEffect, useState, type JSX } from 'react';
import type { TransportMode } from '../../js/src/index.ts';
import { mintToken } from './api.ts';
import { CopyButton } from './CopyButton.tsx';
import { expiresIn, readClaims } from './jwt.ts';

/** What a connection asks for besides the token. */
export interface ConnectOptions {
  /** Topic patterns (query topics=): the server-side scope of the stream. */
  topics: string[];
  transport: TransportMode;
  presence: boolean;
}

interface Props {
  dev: boolean;
  connected: boolean;
  onConnect: (token: string, opts: ConnectOptions) => void;
  onDisconnect: () => void;
}

/** parseTopics splits "orders.*, billing.>" into patterns; empty parts are dropped. */
export function parseTopics(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((t) => t.trim())
    .filter(Boolean);
}

export function ConnectPanel({ dev, connected, onConnect, onDisconnect }: Props): JSX.Element {
  const [org, setOrg] = useState('acme');
  const [sub, setSub] = useState('console');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [mintError, setMintError] = useState('');
  const [topics, setTopics] = useState('');
  const [transport, setTransport] = useState<TransportMode>('auto');
  const [presence, setPresence] = useState(true);
  const now = useNow(10_000);

  const claims = token.trim() ? readClaims(token) : null;

  const mint = async () => {
    setBusy(true);
    setMintError('');
    try {
      setToken((await mintToken(org.trim(), sub.trim(), 'subscribe')).token);
    } catch (e) {
      setMintError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card connect">
      <h2>Connect</h2>
      {dev && (
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void mint();
          }}
        >
          <label>
            org
            <input value={org} onChange={(e) => setOrg(e.target.value)} disabled={connected} data-testid="mint-org" />
          </label>
          <label>
            user
            <input value={sub} onChange={(e) => setSub(e.target.value)} disabled={connected} data-testid="mint-sub" />
          </label>
          <button type="submit" disabled={connected || busy || !org.trim() || !sub.trim()} data-testid="mint-token">
            Mint token
          </button>
        </form>
      )}
      {mintError && (
        <p className="error small" data-testid="mint-error">
          {mintError}
        </p>
      )}
      <label className="block">
        <span className="label-row">
          token {dev ? '(minted above, or pasted)' : '(from orgstream token --org ORG --sub USER)'}
          <CopyButton text={token.trim()} label="copy token" testid="copy-token" />
        </span>
        <textarea
          rows={3}
          spellCheck={false}
          value={token}
          readOnly={connected}
          onChange={(e) => setToken(e.target.value)}
          placeholder="eyJhbGciOiJIUzI1NiIs…"
          data-testid="token-input"
        />
      </label>
      <p className="muted small" data-testid="token-claims">
        {token.trim() === ''
          ? 'no token'
          : claims
            ? `org ${claims.org ?? '?'} · user ${claims.sub ?? '?'} · ${claims.scope ?? 'subscribe'} · ${expiresIn(claims.exp, now)}`
            : 'this does not look like a JWT'}
      </p>
      <div className="row">
        <label>
          topics (server-side scope, optional)
          <input
            value={topics}
            onChange={(e) => setTopics(e.target.value)}
            disabled={connected}
            placeholder="orders.*, billing.>"
            data-testid="connect-topics"
          />
        </label>
        <label className="narrow">
          transport
          <select value={transport} onChange={(e) => setTransport(e.target.value as TransportMode)} disabled={connected} data-testid="connect-transport">
            <option value="auto">auto</option>
            <option value="websocket">WebSocket</option>
            <option value="sse">SSE</option>
          </select>
        </label>
      </div>
      <label className="check">
        <input type="checkbox" checked={presence} onChange={(e) => setPresence(e.target.checked)} disabled={connected} data-testid="connect-presence" />
        presence frames (presence=true)
      </label>
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={connected || token.trim() === ''}
          onClick={() => onConnect(token.trim(), { topics: parseTopics(topics), transport, presence })}
          data-testid="connect"
        >
          Connect
        </button>
        <button type="button" disabled={!connected} onClick={onDisconnect} data-testid="disconnect">
          Disconnect
        </button>
      </div>
    </div>
  );
}

/** The time, refreshed every periodMs. */
export function useNow(periodMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(t);
  }, [periodMs]);
  return now;
}
