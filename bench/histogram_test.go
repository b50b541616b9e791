package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

func TestBucketBoundsHoldTheirValues(t *testing.T) {
	values := []int64{0, 1, 31, 32, 63, 64, 65, 127, 128, 1000, 1 << 20, 123456789, 1<<40 + 7, math.MaxInt64}
	for _, v := range values {
		i := bucketOf(v)
		lo, hi := bucketBounds(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if i < 0 || i >= numBuckets {
			t.Errorf("value %d: bucket %d out of range", v, i)
		}
		if v >= 2*subBuckets && float64(hi-lo) > float64(lo)/subBuckets {
			t.Errorf("bucket %d [%d, %d] wider than 1/%d of its bound", i, lo, hi, subBuckets)
		}
	}
	if bucketOf(-5) != 0 {
		t.Errorf("negative value not in bucket 0")
	}
}

// exactQuantile is the ceil(q*n)-th smallest of sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestQuantileMatchesSortedSample(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		gen  func() int64
		n    int
	}{
		{"constant", func() int64 { return 5_000_000 }, 1000},
		{"single", func() int64 { return 42 }, 1},
		{"small exact values", func() int64 { return rng.Int64N(60) }, 5000},
		{"uniform ms", func() int64 { return rng.Int64N(50_000_000) }, 20000},
		{"exponential", func() int64 { return int64(rng.ExpFloat64() * 3e6) }, 20000},
		{"bimodal", func() int64 {
			if rng.IntN(10) == 0 {
				return 200_000_000 + rng.Int64N(1e6)
			}
			return 1_000_000 + rng.Int64N(1e5)
		}, 20000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			vals := make([]int64, tc.n)
			for i := range vals {
				vals[i] = tc.gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			d := h.Snapshot()
			if d.N != uint64(tc.n) {
				t.Fatalf("N = %d, want %d", d.N, tc.n)
			}
			for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
				want := exactQuantile(vals, q)
				got := d.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/32+1 {
					t.Errorf("q%.3f = %d, exact %d (off by %.1f%%)", q, got, want, 100*diff/float64(want))
				}
			}
			if got := d.Quantile(1); got != vals[len(vals)-1] {
				t.Errorf("max = %d, want %d", got, vals[len(vals)-1])
			}
			var sum int64
			for _, v := range vals {
				sum += v
			}
			if math.Abs(d.Mean()-float64(sum)/float64(tc.n)) > 1e-6*float64(sum) {
				t.Errorf("mean = %f, want %f", d.Mean(), float64(sum)/float64(tc.n))
			}
		})
	}
}

func TestEmptyDistribution(t *testing.T) {
	var h Histogram
	d := h.Snapshot()
	if d.Quantile(0.5) != 0 || d.Mean() != 0 || d.Summary().Count != 0 {
		t.Errorf("empty distribution: %+v", d.Summary())
	}
	if v, f := d.CDF(10); v != nil || f != nil {
		t.Errorf("CDF of nothing = %v, %v", v, f)
	}
}

func TestShardedHistogramConcurrentMerge(t *testing.T) {
	s := NewShardedHistogram(4)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				s.Shard(g).Record(int64(i) * 1000)
			}
		})
	}
	wg.Wait()
	d := s.Snapshot()
	if d.N != 8000 || d.Max != 999_000 {
		t.Fatalf("N = %d, max = %d; want 8000, 999000", d.N, d.Max)
	}
	if p50 := d.Quantile(0.5); math.Abs(float64(p50-499_000)) > 499_000/32 {
		t.Errorf("p50 = %d, want about 499000", p50)
	}
}

func TestCDFIsMonotonicAndThinned(t *testing.T) {
	var h Histogram
	for i := range 100000 {
		h.Record(int64(i) * 997)
	}
	vs, fs := h.Snapshot().CDF(50)
	if len(vs) != 50 || len(fs) != 50 {
		t.Fatalf("CDF has %d/%d points, want 50", len(vs), len(fs))
	}
	for i := 1; i < len(vs); i++ {
		if vs[i] < vs[i-1] || fs[i] < fs[i-1] {
			t.Fatalf("CDF not monotonic at %d: %v→%v, %v→%v", i, vs[i-1], vs[i], fs[i-1], fs[i])
		}
	}
	if fs[len(fs)-1] != 1 {
		t.Errorf("CDF ends at %v, want 1", fs[len(fs)-1])
	}
}

func TestSummaryInMilliseconds(t *testing.T) {
	var h Histogram
	for range 100 {
		h.Record(2_000_000)
	}
	s := h.Snapshot().Summary()
	if s.Count != 100 || s.MaxMs != 2 || math.Abs(s.P50Ms-2) > 2.0/32 || s.MeanMs != 2 {
		t.Errorf("summary = %+v", s)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	b.ReportAllocs()
	var h Histogram
	for i := range b.N {
		h.Record(int64(i&0xffff) * 1000)
	}
}

func BenchmarkShardedHistogramRecordParallel(b *testing.B) {
	b.ReportAllocs()
	s := NewShardedHistogram(64)
	var next int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		next++
		h := s.Shard(int(next))
		mu.Unlock()
		i := int64(0)
		for pb.Next() {
			i++
			h.Record((i & 0xffff) * 1000)
		}
	})
}
