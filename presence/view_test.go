package presence

import (
	"fmt"
	"slices"
	"testing"

	"github.com/orgstream/orgstream/messages"
)

// step is one input of a view scenario: an entry set (users nil = removed)
// or an instance dropped.
type step struct {
	org, inst string
	users     map[string]int
	drop      bool
	want      []Change
}

func TestView(t *testing.T) {
	on := func(org, u string) Change { return Change{Org: org, User: u, Online: true} }
	off := func(org, u string) Change { return Change{Org: org, User: u} }
	tests := []struct {
		name  string
		steps []step
		// presence of org "a" at the end
		want messages.Presence
	}{
		{
			name: "first and last stream across two instances",
			steps: []step{
				{org: "a", inst: "i1", users: map[string]int{"alice": 1}, want: []Change{on("a", "alice")}},
				{org: "a", inst: "i2", users: map[string]int{"alice": 2, "bob": 1}, want: []Change{on("a", "bob")}},
				{org: "a", inst: "i1", users: nil},
				{org: "a", inst: "i2", users: map[string]int{"alice": 1}, want: []Change{off("a", "bob")}},
				{org: "a", inst: "i2", users: nil, want: []Change{off("a", "alice")}},
			},
			want: messages.Presence{Org: "a", Users: []messages.PresenceUser{}},
		},
		{
			name: "count changes without presence changes",
			steps: []step{
				{org: "a", inst: "i1", users: map[string]int{"u": 1}, want: []Change{on("a", "u")}},
				{org: "a", inst: "i1", users: map[string]int{"u": 3}},
				{org: "a", inst: "i1", users: map[string]int{"u": 1}},
				{org: "a", inst: "i1", users: map[string]int{}, want: []Change{off("a", "u")}},
				{org: "a", inst: "i1", users: nil},
			},
			want: messages.Presence{Org: "a", Users: []messages.PresenceUser{}},
		},
		{
			name: "an instance dropped takes its users of every org",
			steps: []step{
				{org: "a", inst: "i1", users: map[string]int{"x": 1, "y": 2}, want: []Change{on("a", "x"), on("a", "y")}},
				{org: "b", inst: "i1", users: map[string]int{"x": 1}, want: []Change{on("b", "x")}},
				{org: "a", inst: "i2", users: map[string]int{"y": 1}},
				{inst: "i1", drop: true, want: []Change{off("a", "x"), off("b", "x")}},
				{inst: "i1", drop: true},
			},
			want: messages.Presence{Org: "a", Connections: 1, Users: []messages.PresenceUser{{User: "y", Connections: 1}}},
		},
		{
			name: "orgs are apart",
			steps: []step{
				{org: "a", inst: "i1", users: map[string]int{"u": 1}, want: []Change{on("a", "u")}},
				{org: "b", inst: "i1", users: map[string]int{"u": 5}, want: []Change{on("b", "u")}},
				{org: "b", inst: "i1", users: nil, want: []Change{off("b", "u")}},
			},
			want: messages.Presence{Org: "a", Connections: 1, Users: []messages.PresenceUser{{User: "u", Connections: 1}}},
		},
		{
			name: "users sorted, counts summed",
			steps: []step{
				{org: "a", inst: "i2", users: map[string]int{"zoe": 1, "Bob": 2}, want: []Change{on("a", "Bob"), on("a", "zoe")}},
				{org: "a", inst: "i1", users: map[string]int{"alice": 1, "zoe": 2}, want: []Change{on("a", "alice")}},
			},
			want: messages.Presence{Org: "a", Connections: 6, Users: []messages.PresenceUser{
				{User: "Bob", Connections: 2}, {User: "alice", Connections: 1}, {User: "zoe", Connections: 3},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newView()
			for i, s := range tt.steps {
				var got []Change
				if s.drop {
					got = v.drop(s.inst, nil)
				} else {
					got = v.set(s.org, s.inst, s.users, nil)
				}
				if !slices.Equal(got, s.want) {
					t.Fatalf("step %d: changes %v, want %v", i, got, s.want)
				}
			}
			if got := v.presence("a"); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("presence %+v, want %+v", got, tt.want)
			}
			if p := v.presence("nobody"); p.Connections != 0 || len(p.Users) != 0 {
				t.Fatalf("presence of an org with no entry: %+v", p)
			}
		})
	}
}
