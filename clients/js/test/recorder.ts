// What a RealtimeClient reports, recorded in order, and the small helpers the
// client's tests read it with. Shared by the fake-socket tests (fake-client.ts)
// and the real-daemon tests (follow.ts), so that every file records the same way.
import type { ClientOptions, ConnectionState, GapInfo, PresenceChange, RealtimeEvent, ResetInfo, Welcome } from '../src/index.js';

export interface Recorded {
  events: RealtimeEvent[];
  states: ConnectionState[];
  welcomes: Welcome[];
  resets: ResetInfo[];
  gaps: GapInfo[];
  presence: PresenceChange[];
  errors: Error[];
}

/** A fresh record and the client callbacks that fill it. */
export function recorder(): { rec: Recorded; callbacks: Partial<ClientOptions> } {
  const rec: Recorded = { events: [], states: [], welcomes: [], resets: [], gaps: [], presence: [], errors: [] };
  const callbacks: Partial<ClientOptions> = {
    onEvent: (e) => rec.events.push(e),
    onStateChange: (s) => rec.states.push(s),
    onWelcome: (w) => rec.welcomes.push(w),
    onReset: (r) => rec.resets.push(r),
    onGap: (g) => rec.gaps.push(g),
    onPresence: (p) => rec.presence.push(p),
    onError: (err) => rec.errors.push(err),
  };
  return { rec, callbacks };
}

export const seqs = (evs: RealtimeEvent[]): number[] => evs.map((e) => e.seq);

/** from..to, both included. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The query of a URL as an object. */
export const q = (url: string): Record<string, string> => Object.fromEntries(new URL(url).searchParams);
