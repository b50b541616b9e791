package presence

import (
	"maps"
	"slices"
	"strings"

	"github.com/orgstream/orgstream/messages"
)

// Change is a user's presence in an org changing cluster-wide: its first
// stream opened (Online) or its last one closed.
type Change struct {
	Org, User string
	Online    bool
}

// view is the cluster's presence as this node's watcher assembled it from
// the bucket: per org, per instance, each user's open streams, and the sums
// over instances. It is pure (no I/O, no clock) and not safe for concurrent
// use.
type view struct {
	orgs   map[string]map[string]map[string]int // org → instance → user → streams
	totals map[string]map[string]int            // org → user → streams
	insts  map[string]map[string]struct{}       // instance → orgs it has an entry for
}

func newView() *view {
	return &view{
		orgs:   map[string]map[string]map[string]int{},
		totals: map[string]map[string]int{},
		insts:  map[string]map[string]struct{}{},
	}
}

// set replaces inst's entry for org (nil or empty: it has none) and appends
// to out the users whose cluster-wide presence changed, sorted by user.
func (v *view) set(org, inst string, users map[string]int, out []Change) []Change {
	old := v.orgs[org][inst]
	if len(old) == 0 && len(users) == 0 {
		return out
	}
	tot := v.totals[org]
	if tot == nil {
		tot = map[string]int{}
		v.totals[org] = tot
	}
	was := make(map[string]bool, len(old)+len(users))
	for u := range old {
		was[u] = tot[u] > 0
	}
	for u := range users {
		was[u] = tot[u] > 0
	}
	for u, n := range old {
		tot[u] -= n
	}
	for u, n := range users {
		tot[u] += n
	}
	start := len(out)
	for u, before := range was {
		now := tot[u] > 0
		if !now {
			delete(tot, u)
		}
		if now != before {
			out = append(out, Change{Org: org, User: u, Online: now})
		}
	}
	slices.SortFunc(out[start:], func(a, b Change) int { return strings.Compare(a.User, b.User) })
	if len(tot) == 0 {
		delete(v.totals, org)
	}
	v.setEntry(org, inst, users)
	return out
}

// setEntry records inst's entry for org (none when users is empty).
func (v *view) setEntry(org, inst string, users map[string]int) {
	byInst := v.orgs[org]
	if len(users) == 0 {
		delete(byInst, inst)
		if len(byInst) == 0 {
			delete(v.orgs, org)
		}
		if s := v.insts[inst]; s != nil {
			delete(s, org)
			if len(s) == 0 {
				delete(v.insts, inst)
			}
		}
		return
	}
	if byInst == nil {
		byInst = map[string]map[string]int{}
		v.orgs[org] = byInst
	}
	byInst[inst] = maps.Clone(users)
	if v.insts[inst] == nil {
		v.insts[inst] = map[string]struct{}{}
	}
	v.insts[inst][org] = struct{}{}
}

// orgsOf returns the orgs inst has entries for, sorted.
func (v *view) orgsOf(inst string) []string {
	return slices.Sorted(maps.Keys(v.insts[inst]))
}

// drop removes every entry of inst (it left, or went stale) and appends the
// changes, org by org in order.
func (v *view) drop(inst string, out []Change) []Change {
	for _, org := range v.orgsOf(inst) {
		out = v.set(org, inst, nil, out)
	}
	return out
}

// presence is org's presence: its open streams and its users, sorted by id
// (byte order).
func (v *view) presence(org string) messages.Presence {
	p := messages.Presence{Org: org, Users: []messages.PresenceUser{}}
	for u, n := range v.totals[org] {
		p.Connections += n
		p.Users = append(p.Users, messages.PresenceUser{User: u, Connections: n})
	}
	slices.SortFunc(p.Users, func(a, b messages.PresenceUser) int { return strings.Compare(a.User, b.User) })
	return p
}
