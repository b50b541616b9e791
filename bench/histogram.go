package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram bucket layout: values below subBuckets are exact; above, each
// power of two is split into subBuckets linear buckets, so a bucket's width is
// at most 1/subBuckets of its lower bound (about 3%; the midpoint reported by
// Quantile is within 1/64 of any value in the bucket).
const (
	subBits    = 5
	subBuckets = 1 << subBits
	numBuckets = (64 - subBits - 1 + 1) * subBuckets // exponents 0..58 plus the exact range
)

// Histogram counts non-negative int64 values (nanoseconds, for latencies)
// in log-linear buckets. Record is safe for concurrent use and does not
// allocate; a Histogram must not be copied after first use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
}

// bucketOf maps v (negative counts as 0) to its bucket index.
func bucketOf(v int64) int {
	if v < subBuckets {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	u := uint64(v)
	e := bits.Len64(u) - subBits - 1 // u>>e is in [subBuckets, 2*subBuckets)
	return e*subBuckets + int(u>>e)
}

// bucketBounds is the inclusive range of values that land in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 2*subBuckets {
		return int64(i), int64(i)
	}
	e := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	lo64 := m << e
	hi64 := (m+1)<<e - 1
	if hi64 > math.MaxInt64 || hi64 < lo64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds one value.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// RecordDuration adds d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Snapshot copies the counts (each read atomically; not one instant if
// Record runs meanwhile).
func (h *Histogram) Snapshot() *Distribution {
	d := &Distribution{N: h.n.Load(), Sum: h.sum.Load(), Max: h.max.Load()}
	d.counts = make([]uint64, numBuckets)
	for i := range h.counts {
		d.counts[i] = h.counts[i].Load()
	}
	return d
}

// ShardedHistogram spreads Record over several Histograms to keep
// concurrent recorders off each other's cache lines; the caller picks the
// shard (e.g. connection index).
type ShardedHistogram struct {
	shards []Histogram
}

// NewShardedHistogram makes n shards (at least 1).
func NewShardedHistogram(n int) *ShardedHistogram {
	return &ShardedHistogram{shards: make([]Histogram, max(n, 1))}
}

// Shard returns the histogram of key (any non-negative int).
func (s *ShardedHistogram) Shard(key int) *Histogram { return &s.shards[key%len(s.shards)] }

// Snapshot merges the shards.
func (s *ShardedHistogram) Snapshot() *Distribution {
	d := &Distribution{counts: make([]uint64, numBuckets)}
	for i := range s.shards {
		d.Merge(s.shards[i].Snapshot())
	}
	return d
}

// Distribution is a read-only copy of a Histogram.
type Distribution struct {
	counts []uint64
	// N is the number of values, Sum their total and Max the largest.
	N   uint64
	Sum int64
	Max int64
}

// Merge adds o's counts to d.
func (d *Distribution) Merge(o *Distribution) {
	if d.counts == nil {
		d.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		d.counts[i] += c
	}
	d.N += o.N
	d.Sum += o.Sum
	d.Max = max(d.Max, o.Max)
}

// Quantile is the value at quantile q (0 < q ≤ 1): the midpoint of the
// bucket holding the ceil(q*N)-th smallest value, capped at Max; 0 when
// empty. q ≥ 1 returns Max exactly.
func (d *Distribution) Quantile(q float64) int64 {
	if d == nil || d.N == 0 {
		return 0
	}
	if q >= 1 {
		return d.Max
	}
	rank := uint64(math.Ceil(q * float64(d.N)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range d.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			return min(lo+(hi-lo)/2, d.Max)
		}
	}
	return d.Max
}

// Mean is Sum/N (0 when empty).
func (d *Distribution) Mean() float64 {
	if d == nil || d.N == 0 {
		return 0
	}
	return float64(d.Sum) / float64(d.N)
}

// CDF returns up to points (value, fraction ≤ value) pairs, one per
// non-empty bucket (bucket midpoints), thinned evenly when there are more.
func (d *Distribution) CDF(points int) (values []int64, fractions []float64) {
	if d == nil || d.N == 0 {
		return nil, nil
	}
	var seen uint64
	for i, c := range d.counts {
		if c == 0 {
			continue
		}
		seen += c
		lo, hi := bucketBounds(i)
		values = append(values, min(lo+(hi-lo)/2, d.Max))
		fractions = append(fractions, float64(seen)/float64(d.N))
	}
	if points > 1 && len(values) > points {
		step := float64(len(values)-1) / float64(points-1)
		tv, tf := make([]int64, 0, points), make([]float64, 0, points)
		for k := range points {
			j := int(math.Round(float64(k) * step))
			tv, tf = append(tv, values[j]), append(tf, fractions[j])
		}
		values, fractions = tv, tf
	}
	return values, fractions
}

// Summary is the JSON shape of a latency distribution, in milliseconds.
type Summary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summary reads the usual quantiles of a distribution of nanoseconds.
func (d *Distribution) Summary() Summary {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Summary{
		Count:  d.N,
		MeanMs: d.Mean() / 1e6,
		P50Ms:  ms(d.Quantile(0.50)),
		P90Ms:  ms(d.Quantile(0.90)),
		P99Ms:  ms(d.Quantile(0.99)),
		P999Ms: ms(d.Quantile(0.999)),
		MaxMs:  ms(d.Quantile(1)),
	}
}
