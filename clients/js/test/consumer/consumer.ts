// A consumer of the packed @orgstream/client, installed from its tarball into
// a scratch project (test/pack.daemon.test.ts): it type-checks against the
// published types and runs on Node with the SSE transport (fetch only, no
// WebSocket package). Once welcomed it publishes `want` events with the
// package's Publisher, and prints the seqs it received as one JSON line.
import { CLIENT_NAME, Publisher, RealtimeClient, type RealtimeEvent } from '@orgstream/client';

const [url, org, token, pubToken, want] = process.argv.slice(2);
const n = Number(want);
const seqs: number[] = [];
const client = new RealtimeClient({
  url,
  token,
  transport: 'sse',
  storage: null,
  onWelcome: () => {
    const pub = new Publisher({ url, org, token: pubToken });
    void pub.publishBatch(Array.from({ length: n }, (_, i) => ({ topic: 'packed', data: { i } })));
  },
  onEvent: (e: RealtimeEvent) => {
    seqs.push(e.seq);
    if (seqs.length === n) {
      client.close();
      console.log(JSON.stringify({ client: CLIENT_NAME, seqs }));
    }
  },
  onError: (err: Error) => console.error(String(err)),
});
client.connect();
setTimeout(() => {
  console.error(`timed out with seqs ${JSON.stringify(seqs)}`);
  process.exit(1);
}, 15_000).unref();
