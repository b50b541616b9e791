// The last events, newest first, with the resets, gaps and (re)connects
// between them. A click on an event opens its full JSON, pretty-printed, with
// a copy button; the filter box narrows the list on the page (the server-side
// scope is the Connect panel's topics field).
import { useMemo, useState, type JSX } from 'react';
import { CopyButton } from './CopyButton.tsx';

export type Row =
  | { kind: 'event'; key: number; seq: number; topic: string; ts: string; id?: string; data: unknown; compact: string }
  | { kind: 'reset' | 'gap' | 'resume' | 'connect'; key: number; text: string };

interface Props {
  rows: Row[];
  max: number;
  onClear: () => void;
}

/** The rows of a compact event cell: longer data is cut here (the expanded row shows it all). */
export const COMPACT_CHARS = 300;

/** "10:00:00.123" of an RFC 3339 timestamp, in local time. */
function clock(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The event as the stream sent it (without `type`), pretty-printed. */
export function prettyEvent(r: Extract<Row, { kind: 'event' }>): string {
  const e: Record<string, unknown> = { seq: r.seq, topic: r.topic, ts: r.ts };
  if (r.id !== undefined) e.id = r.id;
  e.data = r.data;
  return JSON.stringify(e, null, 2);
}

/**
 * topicPattern tells whether topic matches a NATS-style pattern, as the
 * server's `topics` do: segments split on '.', '*' matches one segment, '>'
 * (last) one or more.
 */
export function topicPattern(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return i === p.length - 1 && t.length > i;
    if (i >= t.length || (p[i] !== '*' && p[i] !== t[i])) return false;
  }
  return p.length === t.length;
}

/**
 * matches tells whether an event row passes the filter. Each word must
 * match: a word with '*' or '>' is a topic pattern (topicPattern), any other
 * is looked for (case-insensitive) in the topic, the seq and the data's JSON.
 * Notes (resets, gaps, reconnects) always pass: they explain the list.
 */
export function matches(r: Row, filter: string): boolean {
  if (r.kind !== 'event') return true;
  const words = filter.split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const hay = `${r.seq} ${r.topic} ${r.compact}`.toLowerCase();
  return words.every((w) => (/[*>]/.test(w) ? topicPattern(w, r.topic) : hay.includes(w.toLowerCase())));
}

export function EventList({ rows, max, onClear }: Props): JSX.Element {
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const [filter, setFilter] = useState('');
  const shown = useMemo(() => rows.filter((r) => matches(r, filter)), [rows, filter]);
  const events = rows.filter((r) => r.kind === 'event').length;
  const shownEvents = shown.filter((r) => r.kind === 'event').length;
  const toggle = (key: number) =>
    setOpen((prev) => {
      const next = new Set(prev);
      if (!next.delete(key)) next.add(key);
      return next;
    });

  return (
    <div className="card events">
      <div className="card-head">
        <h2>Events</h2>
        <span className="muted small">newest first, last {max} kept · click a row for its JSON</span>
        <button type="button" className="link" onClick={onClear} data-testid="clear-events">
          clear
        </button>
      </div>
      <div className="row filter">
        <input
          type="search"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          placeholder="filter: a topic pattern (orders.*), or text in topic, seq or data (on this page)"
          aria-label="filter the events"
          data-testid="event-filter"
        />
        {filter.trim() !== '' && (
          <span className="muted small" data-testid="filter-count">
            {shownEvents} of {events} shown
          </span>
        )}
      </div>
      {rows.length === 0 ? (
        <p className="muted empty">No events yet. Connect, then publish one.</p>
      ) : (
        <div className="list" role="list" data-testid="event-list">
          {shown.map((r) =>
            r.kind === 'event' ? (
              <div
                key={r.key}
                role="listitem"
                className={open.has(r.key) ? 'ev open' : 'ev'}
                data-testid="event-row"
                data-seq={r.seq}
                data-topic={r.topic}
              >
                <button type="button" className="ev-head" aria-expanded={open.has(r.key)} onClick={() => toggle(r.key)} data-testid="event-toggle">
                  <span className="num">{r.seq}</span>
                  <span className="topic">{r.topic}</span>
                  <span className="ts" title={r.ts}>
                    {clock(r.ts)}
                  </span>
                  <code className="data">{r.compact.length > COMPACT_CHARS ? r.compact.slice(0, COMPACT_CHARS) + '…' : r.compact}</code>
                </button>
                {open.has(r.key) && (
                  <div className="ev-body">
                    <CopyButton text={prettyEvent(r)} label="copy JSON" testid="copy-event" />
                    <pre data-testid="event-json">{prettyEvent(r)}</pre>
                  </div>
                )}
              </div>
            ) : (
              <div key={r.key} role="listitem" className={`note ${r.kind}`} data-testid={`${r.kind}-row`}>
                {r.text}
              </div>
            ),
          )}
        </div>
      )}
    </div>
  );
}
