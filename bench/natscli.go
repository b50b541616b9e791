package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// natscliStream and natscliSubject are what natscli's runs publish to:
// a stream of their own (natscli --create makes it, R1 file store), apart
// from the nats.go shapes' ANCHOR.
const (
	natscliStream  = "NATSCLI"
	natscliSubject = "natscli"
)

// natscliBuildTimeout bounds natscli's first `go run` (download and build
// when the cache lacks it), done before any measured run.
const natscliBuildTimeout = 10 * time.Minute

// runNatscli runs `nats bench js pub sync|async` (argv is natscli up to
// "bench") against url for the anchor shape called shape with pubs
// clients, for about d: the message count is rate (the nats.go figure of
// the same shape) × d. It returns natscli's msgs/sec.
func runNatscli(ctx context.Context, argv []string, url, shape string, pubs, window, size int,
	rate float64, d time.Duration) (float64, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("%w: natscli: no command", ErrAnchor)
	}
	// Build (or find in the cache) natscli before the timed run: a first
	// `go run` compiles for minutes on a small box.
	if _, err := runCapture(ctx, natscliBuildTimeout, append(append([]string{}, argv...), "--version")); err != nil {
		return 0, fmt.Errorf("%w: natscli: %w", ErrAnchor, err)
	}
	kind := "sync"
	if shape == AnchorAsync {
		kind = "async"
	}
	msgs := max(int64(rate*d.Seconds()), 1000)
	args := append(append([]string{}, argv...), "bench", "js", "pub", kind, natscliSubject,
		"--server", url, "--msgs", strconv.FormatInt(msgs, 10), "--size", strconv.Itoa(size)+"B",
		"--clients", strconv.Itoa(pubs), "--stream", natscliStream, "--create", "--no-progress")
	if kind == "async" {
		args = append(args, "--batch", strconv.Itoa(window))
	}
	out, err := runCapture(ctx, 10*d+time.Minute, args)
	if err != nil {
		return 0, fmt.Errorf("%w: natscli %s: %w", ErrAnchor, shape, err)
	}
	v, err := ParseNatscliRate(out)
	if err != nil {
		return 0, fmt.Errorf("%w: natscli %s: %w", ErrAnchor, shape, err)
	}
	return v, nil
}

// runCapture runs argv with a timeout and returns its stdout; a failure
// quotes the end of its output.
func runCapture(ctx context.Context, timeout time.Duration, argv []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 2 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	setPdeathsig(cmd)
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv[:min(len(argv), 4)], " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// ParseNatscliRate reads the messages per second of a `nats bench`
// report (natscli v0.5.0): the "aggregated stats: N msgs/sec" line of a
// run with several clients, else the one "… stats: N msgs/sec ~ …" line
// of a single client (N with thousands separators, e.g. "7,797").
func ParseNatscliRate(out []byte) (float64, error) {
	var single string
	var singles int
	for line := range strings.Lines(string(out)) {
		if _, rest, ok := strings.Cut(line, " aggregated stats: "); ok {
			return parseNatscliMsgs(rest)
		}
		if _, rest, ok := strings.Cut(line, " stats: "); ok && strings.Contains(rest, " msgs/sec") {
			single = rest
			singles++
		}
	}
	switch singles {
	case 0:
		return 0, fmt.Errorf("%w: no \"stats: N msgs/sec\" line in natscli's output", ErrNoField)
	case 1:
		return parseNatscliMsgs(single)
	}
	return 0, fmt.Errorf("bench: natscli output: %d client stats lines and no aggregated line", singles)
}

// parseNatscliMsgs reads "7,797 msgs/sec ~ …".
func parseNatscliMsgs(s string) (float64, error) {
	num, _, ok := strings.Cut(strings.TrimSpace(s), " msgs/sec")
	if !ok || num == "" {
		return 0, fmt.Errorf("bench: natscli stats %q: want \"N msgs/sec\"", strings.TrimSpace(s))
	}
	groups := strings.Split(num, ",")
	for i, g := range groups {
		if (i == 0 && (len(g) < 1 || len(g) > 3) && len(groups) > 1) || (i > 0 && len(g) != 3) {
			return 0, fmt.Errorf("bench: natscli stats: bad rate %q", num)
		}
	}
	v, err := strconv.ParseUint(strings.Join(groups, ""), 10, 63)
	if err != nil {
		return 0, fmt.Errorf("bench: natscli stats: bad rate %q", num)
	}
	return float64(v), nil
}
