/** This package's version (package.json's; a test keeps them equal). */
export const VERSION = '0.1.0';

/** This client's name and version as it sends them (query `client`), for the daemon's metrics. */
export const CLIENT_NAME = `orgstream-js/${VERSION}`;

/**
 * The version of the wire contract this client speaks. A welcome naming
 * another closes the client with a ProtocolVersionError; unknown fields and
 * unknown frame types are ignored, so additions never need a new version.
 */
export const PROTOCOL_VERSION = '2';

/** The server speaks a protocol version this client does not: the client closes for good. */
export class ProtocolVersionError extends Error {
  constructor(readonly server: string) {
    super(`orgstream: the server speaks protocol ${JSON.stringify(server)}, this client ${PROTOCOL_VERSION}; upgrade the client`);
    this.name = 'ProtocolVersionError';
  }
}
