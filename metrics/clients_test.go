package metrics

import (
	"strconv"
	"testing"
)

func TestClientsCounts(t *testing.T) {
	var c Clients
	a := c.Open("orgstream-go/0.1.0")
	b := c.Open("orgstream-go/0.1.0")
	u := c.Open("")
	if a != "orgstream-go/0.1.0" || b != a || u != ClientUnknown {
		t.Fatalf("labels %q %q %q", a, b, u)
	}
	c.Close(a)
	got := c.Counts()
	if got["orgstream-go/0.1.0"] != 1 || got[ClientUnknown] != 1 || len(got) != 2 {
		t.Fatalf("counts %v", got)
	}
	c.Close(a)
	c.Close(a) // one close too many never goes below zero
	if n := c.Counts()["orgstream-go/0.1.0"]; n != 0 {
		t.Fatalf("count %d after closing both", n)
	}
}

func TestClientsBounded(t *testing.T) {
	var c Clients
	for i := range maxClientLabels + 10 {
		c.Open("made-up/" + strconv.Itoa(i))
	}
	got := c.Counts()
	if len(got) != maxClientLabels+1 || got[ClientOther] == 0 {
		t.Fatalf("%d labels, other %d: want %d and some", len(got), got[ClientOther], maxClientLabels+1)
	}
	// A name seen before the bound keeps its own label.
	if l := c.Open("made-up/0"); l != "made-up/0" {
		t.Fatalf("label %q", l)
	}
}
