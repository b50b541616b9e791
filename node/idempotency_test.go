package node_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/orgstream/orgstream/internal/testkit"
)

// publishAnswer publishes body and decodes the answer, checking the status.
func publishAnswer(t *testing.T, n *testkit.Node, org, token, body string, status int) testkit.SeqAnswer {
	t.Helper()
	st, b := testkit.Publish(t, n.BaseURL(), org, token, body)
	if st != status {
		t.Fatalf("publish %.80s: status %d (%s), want %d", body, st, b, status)
	}
	var a testkit.SeqAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return a
}

// PROTOCOL.md "Publishing": an id seen again returns the first seq with 200
// and adds nothing; ids are per org; a batch gets consecutive seqs and
// answers {"seqs":[…]}, a single event {"seq":N}.
func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "*", "backend", time.Hour, true)
	sub, _ := subscriber(ctx, t, n, "acme", "alice")

	a := publishAnswer(t, n, "acme", pub, testkit.EventBody("t", `{"v":1}`, "key-1"), http.StatusCreated)
	if a.Seq != 1 || a.Seqs != nil {
		t.Fatalf("first publish answered %+v, want {seq:1}", a)
	}
	// The same id again, even with another body: 200, the first seq.
	for _, data := range []string{`{"v":1}`, `{"v":2}`} {
		if a := publishAnswer(t, n, "acme", pub, testkit.EventBody("t", data, "key-1"), http.StatusOK); a.Seq != 1 {
			t.Fatalf("repeat answered %+v, want seq 1", a)
		}
	}
	// The id belongs to acme only: another org stores it.
	if a := publishAnswer(t, n, "globex", pub, testkit.EventBody("t", `{}`, "key-1"), http.StatusCreated); a.Seq != 1 {
		t.Fatalf("same id in globex answered %+v, want a new seq 1", a)
	}

	// A batch: consecutive seqs; repeated whole: 200 and the same seqs.
	batch := `{"events":[` + testkit.EventBody("t", `1`, "b-1") + `,` + testkit.EventBody("t", `2`, "b-2") + `,` +
		testkit.EventBody("t", `3`, "") + `]}`
	a = publishAnswer(t, n, "acme", pub, batch, http.StatusCreated)
	if !slices.Equal(a.Seqs, []uint64{2, 3, 4}) {
		t.Fatalf("batch answered %+v, want seqs [2 3 4]", a)
	}
	dupBatch := `{"events":[` + testkit.EventBody("t", `1`, "b-1") + `,` + testkit.EventBody("t", `2`, "b-2") + `]}`
	if a := publishAnswer(t, n, "acme", pub, dupBatch, http.StatusOK); !slices.Equal(a.Seqs, []uint64{2, 3}) {
		t.Fatalf("repeated batch answered %+v, want 200 seqs [2 3]", a)
	}
	// A batch of one answers with seqs too.
	if a := publishAnswer(t, n, "acme", pub, `{"events":[`+testkit.EventBody("t", `5`, "")+`]}`, http.StatusCreated); !slices.Equal(a.Seqs, []uint64{5}) || a.Seq != 0 {
		t.Fatalf("batch of one answered %+v, want seqs [5]", a)
	}
	// A batch mixing a known id and a new one stores only the new one.
	mixed := `{"events":[` + testkit.EventBody("t", `1`, "key-1") + `,` + testkit.EventBody("t", `6`, "key-6") + `]}`
	if a := publishAnswer(t, n, "acme", pub, mixed, http.StatusCreated); !slices.Equal(a.Seqs, []uint64{1, 6}) {
		t.Fatalf("mixed batch answered %+v, want seqs [1 6]", a)
	}

	// The subscriber saw each stored event once: 1..6, nothing for repeats.
	got, err := sub.CollectEvents(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]uint64, len(got))
	for i, f := range got {
		seqs[i] = f.Seq
	}
	testkit.AssertRange(t, seqs, 1, 6)
	if string(got[0].Data) != `{"v":1}` || got[0].ID != "key-1" {
		t.Errorf("event 1 is %s, want the first body with id key-1", got[0].Raw)
	}
	expectLive(ctx, t, n, sub, "acme", 7)
	if h, _ := n.Head(t, "globex"); h != 1 {
		t.Errorf("globex head %d, want 1", h)
	}
}

// PROTOCOL.md "Publishing": a batch of at most 1000 gets consecutive seqs;
// more is a 400 that adds nothing.
func TestBatchLimit(t *testing.T) {
	t.Parallel()
	n := testkit.StartNode(t, nil)
	ctx := ctxFor(t, phase)
	pub := n.Token(t, "acme", "backend", time.Hour, true)
	sub, _ := subscriber(ctx, t, n, "acme", "alice")

	st, b := testkit.Publish(t, n.BaseURL(), "acme", pub, testkit.BatchBody("t", 1001))
	if st != http.StatusBadRequest {
		t.Fatalf("batch of 1001: %d %s, want 400", st, b)
	}
	decodeError(t, b)
	seqs := testkit.PublishBatch(t, n.BaseURL(), "acme", pub, "t", 1000)
	testkit.AssertRange(t, seqs, 1, 1000)
	got, err := sub.CollectSeqs(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	testkit.AssertRange(t, got, 1, 1000)
	expectLive(ctx, t, n, sub, "acme", 1001)
}
