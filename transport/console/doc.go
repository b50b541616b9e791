// Package console serves orgstream's live console: a single-page app that
// connects to the stream with the TypeScript client (clients/js), shows the
// events of an org as they arrive, counts reconnects, resumes, resets and
// gaps, and publishes test events.
//
// The page is built from clients/console (make console) into dist/, which is
// committed and embedded here, so a fresh clone runs it without npm:
//
//	mux.Handle("GET /{$}", console.Handler())
//	mux.Handle("GET "+console.AssetPrefix, console.Handler())
//
// Handler serves index.html at IndexPath and the other files of dist under
// AssetPrefix (/console/app.js, /console/app.css); every other path is a
// plain 404 and every method but GET and HEAD a 405, which the caller may
// turn into its own error format. Every answer carries
// ContentSecurityPolicy, X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer.
//
// Caching: each file has an ETag (a prefix of its SHA-256) and is served
// with Cache-Control: no-cache, so browsers revalidate and get a 304. The
// built index.html references assets as /console/app.js?v=HASH with that
// same hash; a request whose v matches the file's hash is served with a
// one-year immutable Cache-Control.
//
// The files are read and hashed once, at package init; Handler's value is
// safe for concurrent use.
package console
