// Compile-time checks (npm run typecheck) that the usual WebSocket
// implementations fit the WebSocket option, and the published entry points.
import { describe, expect, it } from 'vitest';
import WS from 'ws';
import * as api from '../src/index.js';
import type { ClientOptions, WebSocketConstructor } from '../src/index.js';

describe('types', () => {
  it('accepts the DOM WebSocket and the ws package', () => {
    const fromWs: WebSocketConstructor = WS;
    const opts: ClientOptions = { url: 'http://h', token: 't', WebSocket: WS };
    const dom: () => WebSocketConstructor = () => WebSocket; // lib.dom's type
    expect(fromWs).toBe(WS);
    expect(opts.WebSocket).toBe(WS);
    expect(typeof dom).toBe('function');
  });

  it('exports the documented API', () => {
    expect(Object.keys(api).sort()).toEqual(
      expect.arrayContaining(['RealtimeClient', 'backoffDelay', 'topicMatches']),
    );
  });
});
