import type { Position } from './types.js';

/**
 * loadPosition reads a position saved by savePosition; null if none,
 * unreadable, or without an org (written by an older version, which did not
 * record the org: its seq cannot be trusted for any org, so it is dropped).
 */
export function loadPosition(storage: Storage | null | undefined, key: string): Position | null {
  if (!storage) return null;
  try {
    const raw = storage.getItem(key);
    if (raw === null) return null;
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const { epoch, lastSeq, org, user } = v as Record<string, unknown>;
    if (typeof epoch !== 'string' || epoch === '') return null;
    if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) return null;
    if (typeof org !== 'string' || org === '') return null;
    const pos: Position = { epoch, lastSeq, org };
    if (typeof user === 'string') pos.user = user;
    return pos;
  } catch {
    return null; // storage denied (privacy modes) or garbage: start fresh
  }
}

/** savePosition writes JSON {epoch,lastSeq,org,user}; a storage error (quota, denied) is ignored. */
export function savePosition(storage: Storage | null | undefined, key: string, pos: Position | null): void {
  if (!storage || !pos || pos.epoch === '' || pos.org === '') return;
  try {
    const v: Position = { epoch: pos.epoch, lastSeq: pos.lastSeq, org: pos.org };
    if (pos.user !== undefined) v.user = pos.user;
    storage.setItem(key, JSON.stringify(v));
  } catch {
    // Nothing to do: the position stays in memory.
  }
}
