package presence

import (
	"fmt"
	"testing"
)

// BenchmarkUserStreams is what a connect or disconnect costs the hub's
// goroutine with presence on: the count recorded and the writer woken.
func BenchmarkUserStreams(b *testing.B) {
	t := &Tracker{local: map[string]map[string]int{}, dirty: map[string]struct{}{}, wake: make(chan struct{}, 1)}
	users := make([]string, 1000)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		t.UserStreams("acme", users[i%len(users)], i&1)
	}
}

// BenchmarkApplyEntry is what each node pays for one write of another
// node's entry of an org with n users there (one user changed): decoding
// it and updating the sums. It grows with the org's users on that node,
// never with events.
func BenchmarkApplyEntry(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			users := map[string]int{}
			for i := range n {
				users[fmt.Sprintf("user-%d", i)] = 1
			}
			vals := [2][]byte{encodeUsers(users)}
			users["user-0"] = 2
			vals[1] = encodeUsers(users)
			v := newView()
			var out []Change
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				u, err := decodeUsers(vals[i&1])
				if err != nil {
					b.Fatal(err)
				}
				out = v.set("acme", "inst", u, out[:0])
			}
		})
	}
}
