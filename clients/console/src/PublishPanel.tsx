// Publish form: POST /v2/realtime/orgs/{org}/events with a publish token.
import { useEffect, useState, type JSX } from 'react';
import { describeError, mintToken, publish } from './api.ts';
import { CopyButton } from './CopyButton.tsx';

interface Props {
  dev: boolean;
  /** The org of the connected token: the form follows it. */
  sessionOrg?: string;
}

interface Result {
  ok: boolean;
  text: string;
}

export function PublishPanel({ dev, sessionOrg }: Props): JSX.Element {
  const [org, setOrg] = useState(sessionOrg ?? 'acme');
  const [topic, setTopic] = useState('demo');
  const [to, setTo] = useState('');
  const [data, setData] = useState('{"hello":"world"}');
  const [id, setId] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Result | null>(null);

  useEffect(() => {
    if (sessionOrg) setOrg(sessionOrg);
  }, [sessionOrg]);

  const mint = async () => {
    setBusy(true);
    try {
      setToken((await mintToken(org.trim(), 'console-publisher', 'publish')).token);
      setResult(null);
    } catch (e) {
      setResult({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  const send = async () => {
    try {
      JSON.parse(data);
    } catch {
      setResult({ ok: false, text: 'data is not valid JSON' });
      return;
    }
    // The data goes out as typed: the daemon stores it byte for byte.
    let body = `{"topic":${JSON.stringify(topic.trim())},"data":${data}`;
    if (id.trim() !== '') body += `,"id":${JSON.stringify(id.trim())}`;
    const users = to.split(/[\s,]+/).filter(Boolean);
    if (users.length > 0) body += `,"to":${JSON.stringify(users)}`;
    body += '}';
    setBusy(true);
    try {
      const a = await publish(org.trim(), token.trim(), body);
      setResult({ ok: a.ok, text: a.ok ? `${a.status} ${a.text}` : describeError(a) });
    } catch (e) {
      setResult({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card publish"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <h2>Publish</h2>
      <div className="row">
        <label>
          org
          <input value={org} onChange={(e) => setOrg(e.target.value)} data-testid="publish-org" />
        </label>
        <label>
          topic
          <input value={topic} onChange={(e) => setTopic(e.target.value)} data-testid="publish-topic" />
        </label>
      </div>
      {sessionOrg && org.trim() !== sessionOrg && (
        <p className="warn small" data-testid="publish-org-warning">
          ⚠ publishing to org {JSON.stringify(org.trim())}, but the stream is connected to {JSON.stringify(sessionOrg)}: these events will not show in the list.
        </p>
      )}
      <label className="block">
        data (JSON)
        <textarea rows={3} spellCheck={false} value={data} onChange={(e) => setData(e.target.value)} data-testid="publish-data" />
      </label>
      <label className="block">
        id (optional: the same id within 2 min returns the first seq)
        <input value={id} onChange={(e) => setId(e.target.value)} data-testid="publish-id" />
      </label>
      <label className="block">
        to (optional: user ids, comma-separated; only their streams get the event)
        <input value={to} onChange={(e) => setTo(e.target.value)} placeholder="alice, bob" data-testid="publish-to" />
      </label>
      <label className="block">
        <span className="label-row">
          publish token {dev ? '' : '(orgstream token --org ORG --sub backend --publish)'}
          <CopyButton text={token.trim()} label="copy token" testid="copy-publish-token" />
        </span>
        <textarea rows={2} spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} placeholder="a token with scope publish" data-testid="publish-token" />
      </label>
      <div className="row">
        {dev && (
          <button type="button" disabled={busy || !org.trim()} onClick={() => void mint()} data-testid="mint-publish-token">
            Mint publish token
          </button>
        )}
        <button type="submit" className="primary" disabled={busy || !token.trim() || !topic.trim()} data-testid="publish">
          Publish
        </button>
      </div>
      {result && (
        <p className={result.ok ? 'ok small' : 'error small'} data-testid="publish-result" data-ok={result.ok}>
          → {result.text}
        </p>
      )}
    </form>
  );
}
