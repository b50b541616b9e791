import { describe, expect, it } from 'vitest';
import { topicMatches } from '../src/index.js';

describe('topicMatches', () => {
  it.each([
    [undefined, 'orders.updated', true],
    ['', 'orders.updated', true],
    ['*', 'anything', true],
    ['orders.updated', 'orders.updated', true],
    ['orders.updated', 'orders.updated.v2', false],
    ['orders.updated', 'orders', false],
    ['orders.*', 'orders.updated', true],
    ['orders.*', 'orders.a.b', true],
    ['orders.*', 'orders', false],
    ['orders.*', 'ordersx', false],
    ['orders*', 'ordersx', true],
    ['orders*', 'orders', true],
    ['users.*', 'orders.updated', false],
    ['Orders.updated', 'orders.updated', false],
  ] as const)('%s selects %s: %s', (pattern, topic, want) => {
    expect(topicMatches(pattern, topic)).toBe(want);
  });
});
