import type { Position } from './types.js';

/** loadPosition reads a position saved by savePosition; null if none or unreadable. */
export function loadPosition(storage: Storage | null | undefined, key: string): Position | null {
  if (!storage) return null;
  try {
    const raw = storage.getItem(key);
    if (raw === null) return null;
    const v: unknown = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    const { epoch, lastSeq } = v as Record<string, unknown>;
    if (typeof epoch !== 'string' || epoch === '') return null;
    if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) return null;
    return { epoch, lastSeq };
  } catch {
    return null; // storage denied (privacy modes) or garbage: start fresh
  }
}

/** savePosition writes JSON {epoch,lastSeq}; a storage error (quota, denied) is ignored. */
export function savePosition(storage: Storage | null | undefined, key: string, pos: Position | null): void {
  if (!storage || !pos || pos.epoch === '') return;
  try {
    storage.setItem(key, JSON.stringify({ epoch: pos.epoch, lastSeq: pos.lastSeq }));
  } catch {
    // Nothing to do: the position stays in memory.
  }
}
