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

  // Per connection.
  /** This connection asked to resume. */
  resuming = false;
  private welcomed = false;
  /** A resume was refused: a reset must come next. */
  private awaitReset = false;
  /** The refusing welcome's epoch, adopted at the reset. */
  private newEpoch = '';

  constructor(pos: Position | null) {
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
    if (this.resuming && w.resumed) {
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
    if (seq !== this.last + 1) return { verdict: 'gap', expected: this.last + 1 };
    this.last = seq;
    return { verdict: 'deliver' };
  }
}
