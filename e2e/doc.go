// Package e2e holds orgstream's end-to-end tests: they build the orgstream
// binary once (TestMain), run it as a subprocess on loopback with its own
// data dir, and check the contract of /work/shared/PROTOCOL.md from outside
// the process: durability across kill -9, the SIGTERM drain, the command
// line (flags, env, token, publish, version), the embedded NATS listener, an
// external NATS server (--nats-url) and that logs never carry a token.
//
//	go test -race -count=1 ./e2e/
//
// The daemon's whole output is kept and printed when a test fails. Set
// ORGSTREAM_E2E_RACE=1 to build the daemon itself with -race (slower); a
// "DATA RACE" in its output then fails the test that ran it. Set
// ORGSTREAM_E2E_SEED to the seed a failed TestKill9DuringPublish logged to
// replay its kill point.
//
// Nothing here is exported; the package has no non-test code.
package e2e
