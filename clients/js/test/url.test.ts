import { describe, expect, it } from 'vitest';
import { httpBase, orgURL, sseBase, streamBase, streamURL } from '../src/index.js';

describe('stream URL', () => {
  it.each([
    ['http://127.0.0.1:8080', 'ws://127.0.0.1:8080/v2/realtime/stream'],
    ['http://127.0.0.1:8080/', 'ws://127.0.0.1:8080/v2/realtime/stream'],
    ['https://rt.example.test', 'wss://rt.example.test/v2/realtime/stream'],
    ['ws://h:1', 'ws://h:1/v2/realtime/stream'],
    ['wss://h/prefix/', 'wss://h/prefix/v2/realtime/stream'],
    ['wss://h/v2/realtime/stream', 'wss://h/v2/realtime/stream'],
    ['https://h/api/v2/realtime/stream/', 'wss://h/api/v2/realtime/stream'],
    ['http://h/?region=eu&access_token=old&last_seq=3#x', 'ws://h/v2/realtime/stream?region=eu'],
    ['http://h/?topics=a&presence=true', 'ws://h/v2/realtime/stream'],
    ['https://h/api/v2/realtime/sse', 'wss://h/api/v2/realtime/stream'],
  ])('%s → %s', (url, want) => {
    expect(streamBase(url).href).toBe(want);
  });

  it('rejects other schemes', () => {
    expect(() => streamBase('ftp://h')).toThrow(/scheme/);
    expect(() => streamBase('not a url')).toThrow();
  });

  it('encodes the token and the position', () => {
    const base = streamBase('http://h');
    expect(streamURL(base, 'a.b+c/d=', null)).toBe('ws://h/v2/realtime/stream?access_token=a.b%2Bc%2Fd%3D&client=orgstream-js%2F0.1.0');
    expect(streamURL(base, 't', { lastSeq: 42, epoch: 'e&1' })).toBe('ws://h/v2/realtime/stream?access_token=t&last_seq=42&epoch=e%261&client=orgstream-js%2F0.1.0');
    expect(streamURL(base, 't', { lastSeq: 0, epoch: '' })).toBe('ws://h/v2/realtime/stream?access_token=t&last_seq=0&client=orgstream-js%2F0.1.0');
  });

  it('adds topics and presence', () => {
    const base = streamBase('http://h');
    expect(streamURL(base, 't', null, { topics: ['orders.*', 'billing.>'], presence: true })).toBe(
      'ws://h/v2/realtime/stream?access_token=t&topics=orders.*%2Cbilling.%3E&presence=true&client=orgstream-js%2F0.1.0',
    );
    expect(streamURL(base, 't', null, { topics: [], presence: false })).toBe('ws://h/v2/realtime/stream?access_token=t&client=orgstream-js%2F0.1.0');
  });

  it.each([
    ['http://h', 'http://h/v2/realtime/sse', 'http://h/', 'http://h/v2/realtime/orgs/a%2Fb/presence'],
    ['wss://h/api/?region=eu', 'https://h/api/v2/realtime/sse?region=eu', 'https://h/api', 'https://h/api/v2/realtime/orgs/a%2Fb/presence'],
  ])('%s: SSE %s, HTTP root %s, presence %s', (url, sse, root, presence) => {
    expect(sseBase(streamBase(url)).href).toBe(sse);
    expect(httpBase(streamBase(url)).href).toBe(root);
    expect(orgURL(url, 'a/b', 'presence')).toBe(presence);
  });
});
