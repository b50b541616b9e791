package orgcore

import (
	"slices"
	"testing"
)

// Removing a subscriber moves the last one into its place; the index
// follows, and every other subscriber stays reachable.
func TestSubsAddRemove(t *testing.T) {
	tests := []struct {
		name   string
		add    []string
		remove []string
		want   []string
	}{
		{name: "none removed", add: []string{"a", "b", "c"}, want: []string{"a", "b", "c"}},
		{name: "middle", add: []string{"a", "b", "c"}, remove: []string{"b"}, want: []string{"a", "c"}},
		{name: "first", add: []string{"a", "b", "c"}, remove: []string{"a"}, want: []string{"c", "b"}},
		{name: "last", add: []string{"a", "b", "c"}, remove: []string{"c"}, want: []string{"a", "b"}},
		{name: "unknown and twice", add: []string{"a", "b"}, remove: []string{"x", "a", "a"}, want: []string{"b"}},
		{name: "all", add: []string{"a", "b"}, remove: []string{"b", "a"}},
		{name: "added again replaces", add: []string{"a", "b", "a"}, want: []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSubs[int]()
			for i, id := range tt.add {
				s.add(&Sub[int]{ID: id, Conn: i})
			}
			for _, id := range tt.remove {
				s.remove(id)
			}
			var got []string
			for _, sub := range s.list {
				got = append(got, sub.ID)
				if s.get(sub.ID) != sub {
					t.Fatalf("get(%s) is not the listed subscriber", sub.ID)
				}
			}
			if !slices.Equal(got, tt.want) || len(s.idx) != len(tt.want) {
				t.Fatalf("subscribers %v (index of %d), want %v", got, len(s.idx), tt.want)
			}
			if a := s.get("a"); a != nil && tt.name == "added again replaces" && a.Conn != 2 {
				t.Fatalf("a is the first one added (conn %d), want the second", a.Conn)
			}
		})
	}
}
