package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "ORGSTREAM_"

// envName is the environment variable that backs a flag:
// "jwt-secret" → "ORGSTREAM_JWT_SECRET".
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// errHelp means --help was asked for: print the help on stdout, exit 0.
var errHelp = errors.New("help requested")

// usageError is a mistake on the command line or in the environment: one
// line on stderr, exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// flagSet wraps flag.FlagSet with env fallback, our own error lines and a
// help text that names each flag's default and environment variable.
type flagSet struct {
	cmd   string // "serve", "token", …
	short string // one-line summary for the help
	fs    *flag.FlagSet
	specs []flagSpec
}

type flagSpec struct {
	name    string
	arg     string // placeholder in the help, "" for booleans
	usage   string
	defText string // shown as "default …"; "" shows nothing
}

func newFlagSet(cmd, short string) *flagSet {
	fs := flag.NewFlagSet("orgstream "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{cmd: cmd, short: short, fs: fs}
}

// value is a flag.Value for any type: parse turns text into T, check (may
// be nil) refuses values out of range, format prints T for the help.
type value[T any] struct {
	p      *T
	parse  func(string) (T, error)
	format func(T) string
	check  func(T) error
	isBool bool
}

func (v *value[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	if v.check != nil {
		if err := v.check(x); err != nil {
			return err
		}
	}
	*v.p = x
	return nil
}

func (v *value[T]) String() string {
	if v == nil || v.p == nil || v.format == nil {
		return ""
	}
	return v.format(*v.p)
}

// IsBoolFlag lets "--publish" stand for "--publish=true".
func (v *value[T]) IsBoolFlag() bool { return v.isBool }

func (f *flagSet) add(v flag.Value, name, arg, usage, defText string) {
	f.fs.Var(v, name, usage)
	f.specs = append(f.specs, flagSpec{name: name, arg: arg, usage: usage, defText: defText})
}

// String defines a string flag; check may be nil.
func (f *flagSet) String(p *string, name, def, arg, usage string, check func(string) error) {
	*p = def
	f.add(&value[string]{p: p, parse: parseString, format: formatString, check: check}, name, arg, usage, def)
}

// Bool defines a boolean flag.
func (f *flagSet) Bool(p *bool, name string, def bool, usage string) {
	*p = def
	f.add(&value[bool]{p: p, parse: parseBool, format: strconv.FormatBool, isBool: true},
		name, "", usage, strconv.FormatBool(def))
}

// Int defines an int flag that must be at least min.
func (f *flagSet) Int(p *int, name string, def, min int, usage string) {
	*p = def
	f.add(&value[int]{p: p, parse: parseInt, format: strconv.Itoa, check: atLeast(min)},
		name, "N", usage, strconv.Itoa(def))
}

// IntRange defines an int flag that must be in min..max.
func (f *flagSet) IntRange(p *int, name string, def, min, max int, usage string) {
	*p = def
	check := func(v int) error {
		if v < min || v > max {
			return fmt.Errorf("must be in %d..%d", min, max)
		}
		return nil
	}
	f.add(&value[int]{p: p, parse: parseInt, format: strconv.Itoa, check: check},
		name, "N", usage, strconv.Itoa(def))
}

// Int64 defines an int64 flag that must be at least min.
func (f *flagSet) Int64(p *int64, name string, def, min int64, usage string) {
	*p = def
	parse := func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, errors.New("not an integer")
		}
		return n, nil
	}
	format := func(v int64) string { return strconv.FormatInt(v, 10) }
	f.add(&value[int64]{p: p, parse: parse, format: format, check: atLeast(min)},
		name, "N", usage, format(def))
}

// Duration defines a duration flag ("5m", "25s") that must be positive.
func (f *flagSet) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	f.add(&value[time.Duration]{p: p, parse: time.ParseDuration, format: formatDuration, check: positiveDuration},
		name, "DURATION", usage, formatDuration(def))
}

// Bytes defines a size flag: a plain number of bytes or a number with a unit
// (KiB, MiB, GiB, KB, MB, GB, B); it must be positive.
func (f *flagSet) Bytes(p *int, name string, def int, usage string) {
	*p = def
	f.add(&value[int]{p: p, parse: parseBytes, format: formatBytes, check: atLeast(1)},
		name, "SIZE", usage, formatBytes(def))
}

// List defines a comma-separated list flag; blanks around items and empty
// items are dropped. check (may be nil) is called on each item.
func (f *flagSet) List(p *[]string, name string, def []string, usage string, check func(string) error) {
	*p = def
	parse := func(s string) ([]string, error) {
		items := splitList(s)
		if check != nil {
			for _, it := range items {
				if err := check(it); err != nil {
					return nil, err
				}
			}
		}
		return items, nil
	}
	format := func(v []string) string { return strings.Join(v, ",") }
	f.add(&value[[]string]{p: p, parse: parse, format: format}, name, "LIST", usage, format(def))
}

// parse reads args, then fills every flag not given on the command line from
// its environment variable (a flag wins over the env). Errors are errHelp or
// *usageError; no positional arguments are accepted.
func (f *flagSet) parse(args []string, env func(string) string) error {
	if err := f.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return f.explain(err)
	}
	if f.fs.NArg() > 0 {
		return usagef("orgstream %s: unexpected argument %q (see orgstream %s --help)", f.cmd, f.fs.Arg(0), f.cmd)
	}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, s := range f.specs {
		if given[s.name] {
			continue
		}
		name := envName(s.name)
		v := env(name)
		if v == "" {
			continue
		}
		if err := f.fs.Set(s.name, v); err != nil {
			return usagef("orgstream %s: invalid value %q in %s: %v", f.cmd, v, name, err)
		}
	}
	return nil
}

// given reports whether the flag was set, on the command line or through its
// environment variable (after parse).
func (f *flagSet) given(name string) bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// explain turns the flag package's errors into one line that names the flag
// the way users type it (--name).
func (f *flagSet) explain(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		return usagef("orgstream %s: unknown flag --%s (see orgstream %s --help)", f.cmd, name, f.cmd)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		name = strings.TrimLeft(name, "-")
		return usagef("orgstream %s: flag --%s needs a value (see orgstream %s --help)", f.cmd, name, f.cmd)
	}
	msg = strings.Replace(msg, "invalid boolean value", "invalid value", 1)
	msg = flagNameInError.ReplaceAllString(msg, " for --$1:")
	return usagef("orgstream %s: %s", f.cmd, msg)
}

// flagNameInError finds the flag in the flag package's "invalid value …
// for flag -name: …" and "… for -name: …" messages.
var flagNameInError = regexp.MustCompile(` for (?:flag )?-+([A-Za-z0-9-]+):`)

// help writes the command's usage: the summary, then each flag with its
// default and environment variable.
func (f *flagSet) help(w io.Writer, extra string) {
	fmt.Fprintf(w, "Usage: orgstream %s [flags]\n\n%s\n", f.cmd, f.short)
	if extra != "" {
		fmt.Fprintf(w, "\n%s\n", extra)
	}
	if len(f.specs) == 0 {
		return
	}
	fmt.Fprintf(w, "\nFlags (each also read from its environment variable; the flag wins):\n")
	for _, s := range f.specs {
		head := "--" + s.name
		if s.arg != "" {
			head += " " + s.arg
		}
		def := "none"
		if s.defText != "" {
			def = s.defText
		}
		fmt.Fprintf(w, "  %s\n        %s\n        (default %s; env %s)\n", head, s.usage, def, envName(s.name))
	}
}

// setDefaultText replaces the "default …" shown in the help of a flag whose
// real default is computed (host name, TTY detection, data-dir path).
func (f *flagSet) setDefaultText(name, text string) {
	for i := range f.specs {
		if f.specs[i].name == name {
			f.specs[i].defText = text
		}
	}
}

func parseString(s string) (string, error) { return s, nil }

func parseInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not an integer")
	}
	return n, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, errors.New("not a boolean (true or false)")
	}
	return b, nil
}
func formatString(s string) string { return s }

func atLeast[T int | int64](min T) func(T) error {
	return func(v T) error {
		if v < min {
			return fmt.Errorf("must be at least %d", min)
		}
		return nil
	}
}

func positiveDuration(d time.Duration) error {
	if d <= 0 {
		return errors.New("must be positive")
	}
	return nil
}

// formatDuration prints 5m0s as 5m and 1h0m0s as 1h, like users type them.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "MiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// parseBytes reads "1048576", "1MiB", "512KiB", "2MB".
func parseBytes(s string) (int, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a size (want e.g. 1048576, 512KiB, 1MiB): %q", s)
	}
	const maxInt = int64(^uint(0) >> 1)
	if n < 0 || (n > 0 && mult > maxInt/n) {
		return 0, fmt.Errorf("size out of range: %q", s)
	}
	return int(n * mult), nil
}

func formatBytes(n int) string {
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.Itoa(n/u.mult) + u.suffix
		}
	}
	return strconv.Itoa(n)
}

// checkHostPort accepts "host:port" with a numeric port 0–65535.
func checkHostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port: %v", err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

// checkURL accepts an absolute URL with a scheme and a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("want an absolute URL such as nats://127.0.0.1:4222, got %q", s)
	}
	return nil
}
