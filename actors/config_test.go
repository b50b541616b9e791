package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/persistence"
)

// TestConfigRetentionIsTheLogs: the window's retention is always the log's,
// whatever the Config says, so the window never serves what the log no
// longer replays (and never drops what it still does).
func TestConfigRetentionIsTheLogs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		log, give time.Duration
		want      time.Duration
	}{
		{name: "defaults", want: persistence.DefaultRetention},
		{name: "log set, config zero", log: 7 * time.Second, want: 7 * time.Second},
		{name: "config disagrees", log: 7 * time.Second, give: time.Hour, want: 7 * time.Second},
		{name: "config disagrees with the default", give: time.Second, want: persistence.DefaultRetention},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := persistence.NewMemory(persistence.MemoryConfig{Retention: tc.log})
			defer l.Close()
			c := Config{Log: l, Retention: tc.give}
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			if c.Retention != tc.want {
				t.Fatalf("Retention %v, want %v", c.Retention, tc.want)
			}
		})
	}
}
