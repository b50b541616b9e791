package persistence

import "testing"

func TestGoid(t *testing.T) {
	here := goid()
	if here == 0 {
		t.Fatal("goid = 0")
	}
	other := make(chan uint64)
	go func() { other <- goid() }()
	if there := <-other; there == here || there == 0 {
		t.Fatalf("goid: %d here, %d in another goroutine", here, there)
	}
	if goid() != here {
		t.Fatal("goid is not stable")
	}
}
