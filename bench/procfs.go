package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoField is returned when a /proc or /metrics text lacks the field asked
// for.
var ErrNoField = errors.New("bench: field not found")

// ReadRSS returns the resident set size of process pid in bytes, from
// /proc/<pid>/status (VmRSS).
func ReadRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read rss: %w", err)
	}
	return ParseVmRSS(b)
}

// ParseVmRSS reads the VmRSS line ("VmRSS:	  123456 kB") of a
// /proc/<pid>/status text, in bytes.
func ParseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("bench: VmRSS line %q: want \"<n> kB\"", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("bench: VmRSS line %q: bad number", line)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%w: VmRSS", ErrNoField)
}

// PromValue returns the value of the first sample of metric name (without
// labels, or with any labels) in a Prometheus text exposition.
func PromValue(text []byte, name string) (float64, error) {
	for line := range bytes.Lines(text) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' || !bytes.HasPrefix(line, []byte(name)) {
			continue
		}
		rest := line[len(name):]
		switch {
		case len(rest) == 0:
			continue
		case rest[0] == '{':
			end := bytes.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		case rest[0] != ' ' && rest[0] != '\t':
			continue // a longer name with this prefix
		}
		f := strings.Fields(string(rest))
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("bench: metric %s: bad value %q", name, f[0])
		}
		return v, nil
	}
	return 0, fmt.Errorf("%w: metric %s", ErrNoField, name)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// ReadCPU returns the CPU time (user + system) process pid has used, from
// /proc/<pid>/stat.
func ReadCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("bench: read cpu: %w", err)
	}
	return ParseStatCPU(b)
}

// ParseStatCPU reads utime + stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name (field 2) may hold spaces and parentheses, so
// fields are counted from its last ')'.
func ParseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without a command name", ErrNoField)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: stat has %d fields after the name", ErrNoField, len(f))
	}
	var total int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 || v > 1<<40 {
			return 0, fmt.Errorf("bench: stat cpu field %q", s)
		}
		total += v
	}
	return time.Duration(total) * time.Second / clockTicks, nil
}

// selfCPU is this process's CPU time (user + system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter measures the cores used by the daemons (summed) and by the
// harness over a span of a run.
type cpuMeter struct {
	pids            []int
	wall            time.Time
	daemon, harness time.Duration
	daemonOK        bool
}

// startCPU starts a span; pids are the daemons' (none, or this process's
// own for an in-process node: daemon CPU unknown).
func startCPU(pids ...int) cpuMeter {
	m := cpuMeter{pids: pids, wall: time.Now(), harness: selfCPU()}
	m.daemon, m.daemonOK = daemonsCPU(pids)
	return m
}

// daemonsCPU sums the CPU time of pids; ok is false when there are none,
// one is this process, or one is unreadable.
func daemonsCPU(pids []int) (time.Duration, bool) {
	var sum time.Duration
	for _, pid := range pids {
		if pid == os.Getpid() {
			return 0, false
		}
		d, err := ReadCPU(pid)
		if err != nil {
			return 0, false
		}
		sum += d
	}
	return sum, len(pids) > 0
}

// cpuUsage is the cores used over a span of secs seconds (daemon: -1 when
// unknown).
type cpuUsage struct{ daemon, harness, secs float64 }

// stop ends the span.
func (m cpuMeter) stop() cpuUsage {
	secs := time.Since(m.wall).Seconds()
	u := cpuUsage{daemon: -1, secs: secs}
	if secs <= 0 {
		return u
	}
	if m.daemonOK {
		if d, ok := daemonsCPU(m.pids); ok {
			u.daemon = (d - m.daemon).Seconds() / secs
		}
	}
	u.harness = (selfCPU() - m.harness).Seconds() / secs
	return u
}

// record adds "daemon CPU" and "harness CPU" (in cores) to r. The harness
// shares the machine with the daemon, so both matter to read a figure.
func (u cpuUsage) record(r *Result, span string) {
	if u.daemon >= 0 {
		r.metric("daemon CPU "+span, u.daemon, "cores", "")
	}
	r.metric("harness CPU "+span, u.harness, "cores", "")
}

// recordPerDelivery adds "daemon CPU per delivery" and "harness CPU per
// delivery" (µs: CPU seconds over the span ÷ deliveries) to r. The daemon's
// figure divided by the floor's CPU per write is the ratio.
func (u cpuUsage) recordPerDelivery(r *Result, deliveries uint64) {
	if deliveries == 0 {
		return
	}
	per := func(cores float64) float64 { return cores * u.secs / float64(deliveries) * 1e6 }
	if u.daemon >= 0 {
		r.metric(MetricDaemonCPUPerDelivery, per(u.daemon), "µs", "")
	}
	r.metric(MetricHarnessCPUPerDelivery, per(u.harness), "µs", "")
}

// recordPerConnect adds "daemon CPU per connect" (µs: CPU seconds over the
// span ÷ connects): what a connect storm costs the daemon, e.g. with
// presence on and off (--daemon-arg=--presence=false).
func (u cpuUsage) recordPerConnect(r *Result, connects int) {
	if u.daemon < 0 || connects == 0 {
		return
	}
	r.metric("daemon CPU per connect", u.daemon*u.secs/float64(connects)*1e6, "µs", "")
}

// Metric names the knee scenario reads from a fanout result.
const (
	MetricDaemonCPUPerDelivery  = "daemon CPU per delivery"
	MetricHarnessCPUPerDelivery = "harness CPU per delivery"
	MetricP50                   = "latency p50"
	MetricP99                   = "latency p99"
	MetricDeliveries            = "deliveries"
	MetricDeliveriesPerSec      = "deliveries/s"
	MetricLost                  = "lost deliveries"
)
