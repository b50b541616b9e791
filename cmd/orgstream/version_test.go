package main

import (
	"runtime/debug"
	"testing"
)

// The stamped version wins; without one, `go install pkg@version` records
// the module version, which is used; a local build says dev.
func TestVersionOf(t *testing.T) {
	info := func(v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Main: debug.Module{Version: v}}, true }
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	for _, tc := range []struct {
		name, stamped string
		info          func() (*debug.BuildInfo, bool)
		want          string
	}{
		{"stamped", "v0.1.0-3-gabc", info("v9.9.9"), "v0.1.0-3-gabc"},
		{"go install", "dev", info("v0.2.0"), "v0.2.0"},
		{"local build", "dev", info("(devel)"), "dev"},
		{"no build info", "dev", none, "dev"},
	} {
		if got := versionOf(tc.stamped, tc.info); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
