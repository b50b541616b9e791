// Publish form: POST /v2/realtime/orgs/{org}/events with a publish token.
import { useEffect, useState, type JSX } from 'react';
import { describeError, mintToken, publish } from './api.ts';

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
      className="card"
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
      <label className="block">
        data (JSON)
        <textarea rows={3} spellCheck={false} value={data} onChange={(e) => setData(e.target.value)} data-testid="publish-data" />
      </label>
      <label className="block">
        id (optional: the same id within 2 min returns the first seq)
        <input value={id} onChange={(e) => setId(e.target.value)} data-testid="publish-id" />
      </label>
      <label className="block">
        publish token {dev ? '' : '(orgstream token --org ORG --sub backend --publish)'}
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
