// Package soak is the nemesis campaign of orgstream: a fault campaign, in
// the spirit of Jepsen, against a real 3-node cluster of `orgstream serve`
// processes (bench.StartCluster).
//
// Publishers on every node post events that all carry an id and retry a
// failed publish (a 503, a timeout, a refused connection) with the same ids,
// on the same or another node. Subscribers of several orgs hop between
// nodes and resume with last_seq and epoch. Meanwhile a nemesis draws
// faults at random from a printed seed (the same seed replays the same
// draw): kill -9 of a node then a restart, SIGSTOP of a node for 2–20 s
// then SIGCONT, a network partition of one node from the others for
// 2–20 s (bench.Cluster.Partition: its route traffic held by proxies), a
// full data disk, and a restart of the whole cluster. After the run the
// checker (Check) reads the history of every answer and every delivery and
// states the contract: every acknowledged event delivered exactly once, in
// seq order, with its data, to every subscriber; no seq acknowledged for
// two events; an event answered with an error appears only under the seq a
// retry with its id was acknowledged with; writes accepted within 15 s of
// the last heal; every subscriber caught up. RSS of every node is sampled
// and tested for an upward trend (TrendOK).
//
// Run is the library entry point; `orgstream-bench soak` and `make soak`
// are the command, and e2e runs a 90-second campaign in `make test`.
package soak
