package bench

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want int64
		err  bool
	}{
		{"typical", "Name:\torgstream\nVmPeak:\t  999 kB\nVmRSS:\t   24960 kB\nThreads:\t7\n", 24960 << 10, false},
		{"zero", "VmRSS:\t0 kB\n", 0, false},
		{"missing", "Name:\tx\nVmSize:\t1 kB\n", 0, true},
		{"other unit", "VmRSS:\t1 MB\n", 0, true},
		{"not a number", "VmRSS:\tlots kB\n", 0, true},
		{"negative", "VmRSS:\t-4 kB\n", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseVmRSS([]byte(tc.in))
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseVmRSS = %d, %v; want %d (error %v)", got, err, tc.want, tc.err)
			}
			if tc.name == "missing" && !errors.Is(err, ErrNoField) {
				t.Errorf("err = %v, want ErrNoField", err)
			}
		})
	}
}

func TestReadRSSOfThisProcess(t *testing.T) {
	v, err := ReadRSS(os.Getpid())
	if err != nil || v <= 0 {
		t.Fatalf("ReadRSS(self) = %d, %v", v, err)
	}
}

const promText = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
go_goroutines_extra 7
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
orgstream_events_total{kind="published"} 17
orgstream_events_total{kind="delivered"} 99
`

func TestPromValue(t *testing.T) {
	cases := []struct {
		name string
		want float64
		err  bool
	}{
		{"go_goroutines", 42, false},
		{"go_goroutines_extra", 7, false},
		{"go_memstats_heap_inuse_bytes", 12345000, false},
		{"orgstream_events_total", 17, false},
		{"go_gor", 0, true},
		{"absent", 0, true},
	}
	for _, tc := range cases {
		got, err := PromValue([]byte(promText), tc.name)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("PromValue(%s) = %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
	if _, err := PromValue([]byte("go_goroutines many\n"), "go_goroutines"); err == nil {
		t.Errorf("a bad value is not an error")
	}
}

func FuzzParseVmRSS(f *testing.F) {
	f.Add([]byte("VmRSS:\t 123 kB\n"))
	f.Add([]byte("VmRSS: kB"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := ParseVmRSS(b); err == nil && v < 0 {
			t.Fatalf("negative RSS %d", v)
		}
	})
}

func FuzzPromValue(f *testing.F) {
	f.Add([]byte(promText), "go_goroutines")
	f.Add([]byte("x{a=\"}\"} 1\n"), "x")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		_, _ = PromValue(b, name)
	})
}

func TestParseStatCPU(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want time.Duration
		err  bool
	}{
		{"typical", "7627 (orgstream) S 7600 7627 7600 0 -1 4194560 3019 0 0 0 250 130 0 0 20 0 9 0 1 2 3", 3800 * time.Millisecond, false},
		{"name with spaces and parens", "1 (a (b) c) R 0 0 0 0 0 0 0 0 0 0 1 2 0 0", 30 * time.Millisecond, false},
		{"no name", "1 a R 0", 0, true},
		{"short", "1 (x) R 0 0", 0, true},
		{"bad number", "1 (x) R 0 0 0 0 0 0 0 0 0 0 x 2", 0, true},
	}
	for _, tc := range cases {
		got, err := ParseStatCPU([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%s: ParseStatCPU = %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.err)
		}
	}
	if d, err := ReadCPU(os.Getpid()); err != nil || d < 0 {
		t.Errorf("ReadCPU(self) = %v, %v", d, err)
	}
}

func FuzzParseStatCPU(f *testing.F) {
	f.Add([]byte("1 (x) R 0 0 0 0 0 0 0 0 0 0 1 2 0 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative cpu %v", d)
		}
	})
}
