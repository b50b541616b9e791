// Package orgcore is an org's delivery logic as a pure state machine: the
// replay window, the subscribers and where each one's stream stands, and the
// decisions that keep every stream exact (DESIGN.md: the seq seam, resets,
// cuts). It does no I/O, reads no clock and starts no goroutine: time comes
// with the inputs, and every outcome is an effect that the shell (the org
// actor in package actors) executes: frames to push into outboxes,
// connections to flush or cut, the log's bounds to read, replays to stream.
//
// This is the shape of etcd's raft, whose RawNode is pure under node.go. The
// scenario scripts in testdata/ drive a Core through its inputs and print
// its effects (go test -run TestScenarios -rewrite regenerates them).
//
// A Core is not safe for concurrent use: the shell gives it one input at a
// time and executes the Effects an input returns before the next input,
// which reuses their buffer. A Subs set outlives the Cores built around it.
//
//	subs := orgcore.NewSubs[*conn]()
//	core := orgcore.New(cfg, subs, orgcore.NewWindow(head, cfg))
//	eff := core.Subscribe(&orgcore.Sub[*conn]{ID: id, Conn: c}, pos, time.Now())
//	for _, p := range eff.Pushes { /* queue p.Bytes() for p.Sub.Conn */ }
//	for _, op := range eff.Ops { /* flush, cut, resolve, replay */ }
package orgcore
