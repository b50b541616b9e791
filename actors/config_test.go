package actors

import (
	"testing"
	"time"

	"github.com/orgstream/orgstream/persistence"
)

// TestConfigRetentionIsTheLogs: the window's retention is always the log's
// (the Config has none of its own to disagree with), so the window never
// serves what the log no longer replays (and never drops what it still
// does).
func TestConfigRetentionIsTheLogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  time.Duration
		want time.Duration
	}{
		{name: "defaults", want: persistence.DefaultRetention},
		{name: "log set", log: 7 * time.Second, want: 7 * time.Second},
		{name: "log longer than the default", log: time.Hour, want: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := persistence.NewMemory(persistence.MemoryConfig{Retention: tc.log})
			defer l.Close()
			c := Config{Log: l}
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			if got := c.coreConfig().Retention; got != tc.want {
				t.Fatalf("Retention %v, want %v", got, tc.want)
			}
		})
	}
}
