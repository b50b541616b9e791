package messages

import (
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// A CRC moved past B by crcShift and added to B's is hash/crc32's over the
// concatenation, for every length up to a few KiB and some large ones.
func TestCRCShift(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 3<<20)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	lens := []int{0, 1, 2, 3, 7, 8, 64, 1 << 20, 3<<20 - 5}
	for n := 0; n < 4096; n += 1 + n/64 {
		lens = append(lens, n)
	}
	for _, n := range lens {
		a := buf[:r.IntN(1000)]
		b := buf[len(buf)-n:]
		want := crc32.Update(crc32.ChecksumIEEE(a), crc32.IEEETable, b)
		if got := multModP(crcShift(uint64(len(b))), crc32.ChecksumIEEE(a)) ^ crc32.ChecksumIEEE(b); got != want {
			t.Fatalf("len %d+%d: %08x, want %08x", len(a), n, got, want)
		}
	}
}
