import type { Position, ResetInfo, Welcome } from './types.js';

/** ProtocolError is a frame that breaks PROTOCOL.md (the client drops the connection). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super('orgstream: protocol error: ' + message);
    this.name = 'ProtocolError';
  }
}

/** What to do with an event. */
export type Verdict =
  | { verdict: 'deliver' }
  | { verdict: 'hole'; expected: number }
  | { verdict: 'duplicate' }
  | { verdict: 'gap'; expected: number };

/**
 * Tracker is the client's position in the org's stream and the rules that move
 * it, without I/O (a port of the Go client's tracker, with one difference: the
 * first event after a fresh welcome or a reset must be head+1 too, so that a
 * hole there is also repaired by a resume).
 *
 * The position is (epoch, last) in org: last is the seq of the last event
 * delivered. A resume is only asked in the same org (the client drops a
 * position of another org than its token's; a welcome of another org to a
 * resume is a protocol error that drops the position).
 * After a welcome that does not resume, or a reset, it becomes (epoch, head):
 * everything up to head is delivered or announced as not coming, so a
 * reconnect before the next event resumes from head and loses nothing. After a
 * welcome that refuses a resume the position is kept until the reset that must
 * follow, so that a connection that ends between the two asks again.
 *
 * Holes (PROTOCOL.md v2 "Scoped delivery"): a stream may legitimately skip
 * seqs, and the Go client applies the same rule:
 *   - on a scoped stream (welcome `scoped: true`), or with trustHoles, a seq
 *     > last+1 is delivered ('hole');
 *   - on an unscoped stream a hole may still be legitimate (an event published
 *     `to` other users), so it is verified once: 'gap' (the client drops the
 *     connection and resumes from last), and on the next connection that
 *     resumes (welcome `resumed: true`) the first event is accepted whatever
 *     its seq: the server's replay is authoritative, so a lost event is
 *     repaired and a legitimate hole costs one resume, never a loop.
 * Duplicates (seq <= last) are dropped in every case.
 */
export class Tracker {
  epoch: string;
  last: number;
  /** The org of the position (the welcome's), '' while none is known. */
  org: string;
  /** The user of the last welcome ('' if none). */
  user: string;
  /** (epoch, last) is a position to resume from. */
  known: boolean;
  /** Deliver every hole without verifying it (option trustHoles). */
  readonly trustHoles: boolean;
  /** A hole is being verified: the first event of the next resumed connection is accepted as it is. */
  verifying = false;

  // Per connection.
  /** This connection asked to resume. */
  resuming = false;
  private welcomed = false;
  /** The welcome said the stream has a topic scope. */
  scoped = false;
  /** The welcome resumed (the server replays from last+1). */
  private resumed = false;
  /** No event of this connection has been judged yet. */
  private first = true;
  /** A resume was refused: a reset must come next. */
  private awaitReset = false;
  /** The refusing welcome's epoch, adopted at the reset. */
  private newEpoch = '';

  constructor(pos: Position | null, opts: { trustHoles?: boolean } = {}) {
    this.trustHoles = opts.trustHoles ?? false;
    this.epoch = pos?.epoch ?? '';
    this.last = pos?.lastSeq ?? 0;
    this.org = pos?.org ?? '';
    this.user = pos?.user ?? '';
    this.known = pos !== null;
  }

  get position(): Position | null {
    if (!this.known) return null;
    const p: Position = { epoch: this.epoch, lastSeq: this.last, org: this.org };
    if (this.user !== '') p.user = this.user;
    return p;
  }

  /**
   * forgetUnless drops the position (the next connection starts fresh) if it
   * is of another org than org: a seq of another org means nothing there. An
   * org of null (not known) keeps it. It tells whether it dropped one.
   */
  forgetUnless(org: string | null): boolean {
    if (!this.known || org === null || org === this.org) return false;
    this.epoch = '';
    this.last = 0;
    this.org = '';
    this.user = '';
    this.known = false;
    return true;
  }

  /** connect starts a connection; it returns the position to resume from, or null. */
  connect(): Position | null {
    this.resuming = this.known;
    this.welcomed = false;
    this.scoped = false;
    this.resumed = false;
    this.first = true;
    this.awaitReset = false;
    this.newEpoch = '';
    return this.position;
  }

  welcome(w: Welcome): void {
    if (this.welcomed) throw new ProtocolError('a second welcome');
    this.welcomed = true;
    if (this.resuming && w.org !== this.org) {
      // The token's org could not be read before the connection asked to
      // resume: the seq was of another org. Start the next connection fresh.
      const org = this.org;
      this.forgetUnless(w.org);
      throw new ProtocolError(`welcome of org ${JSON.stringify(w.org)} to a resume in org ${JSON.stringify(org)}`);
    }
    this.user = typeof w.user === 'string' ? w.user : '';
    this.scoped = w.scoped === true;
    if (this.resuming && w.resumed) {
      this.resumed = true;
      if (this.epoch !== '' && w.epoch !== this.epoch) {
        throw new ProtocolError(`resumed in epoch ${JSON.stringify(w.epoch)}, asked for ${JSON.stringify(this.epoch)}`);
      }
      this.epoch = w.epoch;
    } else if (this.resuming) {
      this.awaitReset = true;
      this.newEpoch = w.epoch;
    } else {
      this.epoch = w.epoch;
      this.org = w.org;
      this.last = w.head;
      this.known = true;
    }
  }

  reset(r: ResetInfo): void {
    if (!this.welcomed) throw new ProtocolError('reset before the welcome');
    if (this.awaitReset) {
      this.epoch = this.newEpoch;
      this.awaitReset = false;
    }
    this.last = r.head;
    this.known = true;
  }

  /** event judges an event; on deliver the position has moved to seq. */
  event(seq: number): Verdict {
    if (!this.welcomed) throw new ProtocolError(`event ${seq} before the welcome`);
    if (this.awaitReset) throw new ProtocolError(`event ${seq} after a refused resume without a reset`);
    if (seq <= this.last) return { verdict: 'duplicate' };
    const first = this.first;
    this.first = false;
    const expected = this.last + 1;
    if (seq !== expected) {
      const verified = this.verifying && this.resumed && first;
      if (!this.scoped && !this.trustHoles && !verified) {
        this.verifying = true;
        return { verdict: 'gap', expected };
      }
    }
    // A resumed connection's first event settles a verification either way.
    if (this.resumed && first) this.verifying = false;
    this.last = seq;
    return seq === expected ? { verdict: 'deliver' } : { verdict: 'hole', expected };
  }
}
