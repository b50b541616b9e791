package soak

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The nemesis's kill-9-leader finds the node leading the most log streams
// in the first metrics document that names a node for every stream.
func TestBusiestLeader(t *testing.T) {
	doc := func(leaders ...string) string {
		var ss []string
		for i, l := range leaders {
			ss = append(ss, fmt.Sprintf(`{"name":"ORGSTREAM_P%d","leader":%q}`, i, l))
		}
		return `{"connections":0,"log":{"streams":[` + strings.Join(ss, ",") + `],"leader_moves":3}}`
	}
	names := []string{"b1", "b2", "b3"}
	tests := []struct {
		name     string
		docs     []string // per node; "" = the node is down
		want     int
		wantNote string
		wantErr  bool
	}{
		{"the busiest", []string{doc("b2", "b3", "b2", "b1", "b2", "b3")}, 1, "led 3 of 6 log streams", false},
		{"ties to the lower index", []string{doc("b3", "b2", "b3", "b2")}, 1, "led 2 of 4 log streams", false},
		{"a down node is skipped", []string{"", doc("b3", "b3")}, 2, "led 2 of 2 log streams", false},
		{"a stream without a leader: ask the next node", []string{doc("b1", ""), doc("b1", "b2", "b1")}, 0, "led 2 of 3 log streams", false},
		{"a leader that is not a node", []string{doc("x9")}, 0, "", true},
		{"no streams", []string{doc()}, 0, "", true},
		{"every node down", []string{"", ""}, 0, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var urls []string
			for _, d := range tc.docs {
				if d == "" {
					srv := httptest.NewServer(http.NotFoundHandler())
					srv.Close() // refuses connections, like a killed node
					urls = append(urls, srv.URL)
					continue
				}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v2/realtime/metrics" {
						http.NotFound(w, r)
						return
					}
					_, _ = w.Write([]byte(d))
				}))
				t.Cleanup(srv.Close)
				urls = append(urls, srv.URL)
			}
			hc := &http.Client{}
			defer hc.CloseIdleConnections()
			i, note, err := busiestLeader(context.Background(), hc, names, urls)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (i != tc.want || note != tc.wantNote) {
				t.Errorf("busiest = %d %q, want %d %q", i, note, tc.want, tc.wantNote)
			}
		})
	}
}
