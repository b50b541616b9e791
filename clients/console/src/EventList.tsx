// The last events, newest first, with the resets and gaps between them.
import type { JSX } from 'react';

export type Row =
  | { kind: 'event'; key: number; seq: number; topic: string; ts: string; id?: string; data: string }
  | { kind: 'reset' | 'gap'; key: number; text: string };

interface Props {
  rows: Row[];
  max: number;
  onClear: () => void;
}

/** "10:00:00.123" of an RFC 3339 timestamp, in local time. */
function clock(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function EventList({ rows, max, onClear }: Props): JSX.Element {
  return (
    <div className="card events">
      <div className="card-head">
        <h2>Events</h2>
        <span className="muted small">newest first, last {max} kept</span>
        <button type="button" className="link" onClick={onClear} data-testid="clear-events">
          clear
        </button>
      </div>
      {rows.length === 0 ? (
        <p className="muted empty">No events yet. Connect, then publish one.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th className="num">seq</th>
              <th>topic</th>
              <th>ts</th>
              <th>data</th>
            </tr>
          </thead>
          <tbody data-testid="event-list">
            {rows.map((r) =>
              r.kind === 'event' ? (
                <tr key={r.key} data-testid="event-row" data-seq={r.seq}>
                  <td className="num">{r.seq}</td>
                  <td className="topic">{r.topic}</td>
                  <td className="ts" title={r.ts}>
                    {clock(r.ts)}
                  </td>
                  <td className="data" title={r.id ? `id ${r.id}` : undefined}>
                    <code>{r.data.length > 300 ? r.data.slice(0, 300) + '…' : r.data}</code>
                  </td>
                </tr>
              ) : (
                <tr key={r.key} className={`note ${r.kind}`} data-testid={`${r.kind}-row`}>
                  <td colSpan={4}>{r.text}</td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
    </div>
  );
}
