// @orgstream/client: the browser client of orgstream's realtime stream
// (PROTOCOL.md "Subscribing: the stream"). React bindings: ./react.
export type {
  ClientOptions,
  ClientStats,
  ConnectionState,
  GapInfo,
  Position,
  PresenceChange,
  RealtimeEvent,
  ResetInfo,
  TokenSource,
  Welcome,
  WebSocketConstructor,
  WebSocketEventLike,
  WebSocketLike,
} from './types.js';
export { RealtimeClient, DEFAULT_BACKOFF, MAX_IMMEDIATE_RECONNECTS, PERSIST_INTERVAL_MS, TOKEN_MIN_TTL_MS } from './client.js';
export { backoffDelay, CloseCode, decideReconnect, type ReconnectAction } from './backoff.js';
export { topicMatches } from './topic.js';
export { httpBase, sseBase, streamBase, streamURL, SSE_PATH, STREAM_PATH, type StreamQuery } from './url.js';
export { SseParser, type SseMessage } from './sse.js';
export { SseSocket, SSE_IDLE_MS, type SseCloseEvent, type SseSocketOptions } from './sse-socket.js';
export { chooseTransport, WS_FAILURES_BEFORE_SSE, type Transport, type TransportMode, type TransportState } from './transport.js';
export {
  fetchHistory,
  fetchPresence,
  fetchTicket,
  orgURL,
  ticketsURL,
  TICKETS_PATH,
  HttpError,
  type HistoryPage,
  type HttpOptions,
  type PresenceInfo,
} from './http.js';
export { ProtocolError } from './tracker.js';
export { CLIENT_NAME, PROTOCOL_VERSION, ProtocolVersionError, VERSION } from './version.js';
export {
  Publisher,
  PublishError,
  newEventId,
  retryableStatus,
  DEFAULT_MIN_BATCH_EVENTS,
  MAX_BATCH,
  MAX_BODY_BYTES,
  MAX_RETRY_FOR_MS,
  type BatchAck,
  type PublishAck,
  type PublishMessage,
  type PublisherOptions,
} from './publisher.js';
