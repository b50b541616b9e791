package e2e

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
	"github.com/orgstream/orgstream/persistence"
)

// upgradeSecret is the JWT secret testdata/upgrade/make.sh ran with.
const upgradeSecret = "upgrade-fixture-secret-0123456789abcdef"

// upgradeExpected is testdata/upgrade/expected.json: what the binary of
// b874a54 (one events stream) answered on the fixture's data dir.
type upgradeExpected struct {
	Epoch   string                     `json:"epoch"`
	History map[string]json.RawMessage `json:"history"`
	AgedOut map[string]struct {
		Head  uint64 `json:"head"`
		First uint64 `json:"first"`
	} `json:"aged_out"`
}

// history is a GET /v2/realtime/orgs/{org}/events answer.
type history struct {
	Epoch  string            `json:"epoch"`
	Head   uint64            `json:"head"`
	First  uint64            `json:"first"`
	Code   string            `json:"code"`
	Events []json.RawMessage `json:"events"`
}

// TestUpgradeFromOneStream: a data dir written by the previous binary (one
// events stream ORGSTREAM; testdata/upgrade) keeps working under
// --partitions 4: the same epoch, every org's history and a resume from 0
// return the old events with their seqs, an org whose events aged out keeps
// its head, new publishes continue at head+1, the metrics list the
// partitions and no ORGSTREAM, and a restart is clean. A start with another
// --partitions is refused with exit 2.
func TestUpgradeFromOneStream(t *testing.T) {
	closeIdle(t)
	var want upgradeExpected
	b, err := os.ReadFile(filepath.Join("testdata", "upgrade", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	untarGz(t, filepath.Join("testdata", "upgrade", "data.tar.gz"), root)
	dir := filepath.Join(root, "data")
	s := spec{DataDir: dir, Env: []string{"ORGSTREAM_JWT_SECRET=" + upgradeSecret},
		Args: []string{"--retention", "87600h", "--partitions", "4"}}
	d := startDaemon(t, s)
	secret := []byte(upgradeSecret)
	ctx := phase(t)

	checkOld := func(d *daemon) {
		t.Helper()
		for org, raw := range want.History {
			var old history
			if err := json.Unmarshal(raw, &old); err != nil {
				t.Fatal(err)
			}
			got := getHistory(t, d, testkit.Token(t, secret, org, "alice", time.Hour, false), org)
			if got.Epoch != want.Epoch || got.Head < old.Head || got.First != old.First ||
				len(got.Events) < len(old.Events) || !slices.EqualFunc(got.Events[:len(old.Events)], old.Events, jsonEqual) {
				t.Errorf("%s's history after the upgrade: %+v\nwant (the old binary's) %s", org, got, raw)
			}
		}
		for org, w := range want.AgedOut {
			got := getHistory(t, d, testkit.Token(t, secret, org, "alice", time.Hour, false), org)
			if got.Code != "window_exceeded" || got.Head < w.Head || got.First < w.First {
				t.Errorf("%s (aged out) after the upgrade: %+v, want window_exceeded head %d first %d", org, got, w.Head, w.First)
			}
		}
	}
	checkOld(d)

	// A resume from 0 in the old epoch replays acme's old events.
	sub := testkit.Token(t, secret, "acme", "alice", time.Hour, false)
	c, w := resume(ctx, t, d, sub, 0, want.Epoch)
	if w.Head != 4 {
		t.Fatalf("welcome %s, want head 4", w.Raw)
	}
	evs, err := c.CollectEvents(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("replayed seqs %v, want 1..4", evs)
		}
	}

	// New publishes continue at head+1, the aged-out org's too.
	pub := testkit.Token(t, secret, "*", "backend", time.Hour, true)
	for _, tc := range []struct {
		org  string
		want uint64
	}{{"acme", 5}, {"globex", 3}, {"initech", 2}, {"hooli", 3}, {"newco", 1}} {
		if got := testkit.PublishEvent(t, d.Base, tc.org, pub, "after.upgrade", `{"n":1}`); got != tc.want {
			t.Errorf("first publish to %s after the upgrade: seq %d, want %d", tc.org, got, tc.want)
		}
	}
	if f := c.ExpectFrame(ctx, "event"); f.Seq != 5 {
		t.Fatalf("live event after the replay: %s, want seq 5", f.Raw)
	}
	c.Close()

	wantStreams := []string{persistence.HeadsStreamName}
	for i := range 4 {
		wantStreams = append(wantStreams, persistence.PartitionStream(i))
	}
	if got := metricsStreams(t, d); !slices.Equal(got, wantStreams) {
		t.Errorf("metrics log.streams %v, want %v (no %s)", got, wantStreams, persistence.StreamName)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", persistence.StreamName)); !os.IsNotExist(err) {
		t.Errorf("the legacy stream's directory is still there (%v)", err)
	}

	// A clean restart: same epoch, the events of both runs.
	if code, _, err := d.Terminate(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}
	d2 := startDaemon(t, s)
	checkOld(d2)
	if got := getHistory(t, d2, sub, "acme"); got.Head != 5 || got.Epoch != want.Epoch {
		t.Errorf("acme after the restart: %+v, want head 5 in epoch %s", got, want.Epoch)
	}
	if code, _, err := d2.Terminate(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("SIGTERM: exit %d, %v", code, err)
	}

	// Another partition count: refused, exit 2, one line naming the flag.
	_, stderr, code := runCLI(t, []string{"ORGSTREAM_JWT_SECRET=" + upgradeSecret},
		"serve", "--data-dir", dir, "--listen", freeAddr(t), "--nats-listen", "off", "--log-level", "error",
		"--retention", "87600h", "--partitions", "5")
	if code != 2 || !strings.Contains(stderr, "--partitions 4") {
		t.Errorf("start with --partitions 5 on a store of 4: exit %d, stderr %q; want 2 naming --partitions 4", code, stderr)
	}
}

// getHistory reads org's history after 0 (a 200 or a 410).
func getHistory(t *testing.T, d *daemon, token, org string) history {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.Base+"/v2/realtime/orgs/"+org+"/events?after=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h history
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatalf("history of %s: %d, %v", org, resp.StatusCode, err)
	}
	return h
}

// metricsStreams lists the stream names of the metrics' "log.streams",
// sorted.
func metricsStreams(t *testing.T, d *daemon) []string {
	t.Helper()
	resp, err := http.Get(d.Base + "/v2/realtime/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Log struct {
			Streams []struct {
				Name string `json:"name"`
			} `json:"streams"`
		} `json:"log"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range doc.Log.Streams {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// jsonEqual compares two JSON values, ignoring formatting.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// untarGz unpacks a .tar.gz of plain files and directories into dir.
func untarGz(t *testing.T, path, dir string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o700)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
				_, err = io.Copy(out, tr)
				err = errors.Join(err, out.Close())
			}
		default:
			t.Fatalf("unexpected entry %s in %s", h.Name, path)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}
