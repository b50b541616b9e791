package orgcore

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orgstream/orgstream/messages"
)

// rewrite regenerates the expected outputs of testdata/*.txt; review every
// change by hand before committing it.
var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs in testdata/")

// TestScenarios runs the scripts in testdata/. A script is a list of
// blocks, each a command, a line "----" and the effects the command must
// produce, one a line, ended by a blank line. Lines starting with # are
// comments. See driver.run for the commands.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) { runScript(t, file) })
	}
}

func runScript(t *testing.T, file string) {
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d := &driver{}
	var out strings.Builder
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		cmd, at := line, i+1
		i++
		if i >= len(lines) || lines[i] != "----" {
			t.Fatalf("%s:%d: want ---- after the command", file, at)
		}
		var want []string
		for i++; i < len(lines) && lines[i] != ""; i++ {
			want = append(want, lines[i])
		}
		got, err := d.run(cmd)
		if err != nil {
			t.Fatalf("%s:%d: %s: %v", file, at, cmd, err)
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", file, at, cmd, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		out.WriteString(cmd + "\n----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		if i < len(lines) {
			out.WriteString("\n")
		}
	}
	if *rewrite {
		s := strings.TrimRight(out.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// stored is an event of the driver's log.
type stored struct {
	at time.Time
	f  *messages.Frame
}

// driver plays the shell: it owns the clock, the log and the subscriber
// set, turns commands into inputs and prints the effects.
type driver struct {
	cfg  Config
	now  time.Time
	log  map[uint64]stored
	subs *Subs[string]
	core *Core[string]
}

// run executes one command:
//
//	new [size=N] [bytes=N] [retention=D] [queue=N] [epoch=E] [head=N]
//	stored SEQ|FROM..TO [size=N] [topic=T] [to=U1,U2]
//	                               the log stored events (frames of size
//	                               bytes, topic T (default "t"), for users U…)
//	logged SEQ|FROM..TO [...]      the log stored events the core does not see
//	appended SEQ                   this node's writer acked SEQ
//	subscribe ID [resume=N] [epoch=E] [deflate] [user=U] [topics=P1,P2]
//	bounds ID first=N head=N | bounds ID failed     answers a resolve
//	resolved ID next=N | resolved ID failed          answers a replay
//	unsubscribe ID | overflow ID
//	tick +D                        the clock moves on; the window is pruned
//	restart                        a new core from the log, same subscribers
//	state                          prints the window and the subscribers
func (d *driver) run(line string) ([]string, error) {
	f := strings.Fields(line)
	args := map[string]string{}
	var pos []string
	for _, a := range f[1:] {
		if k, v, ok := strings.Cut(a, "="); ok {
			args[k] = v
		} else {
			pos = append(pos, a)
		}
	}
	num := func(k string, def uint64) uint64 {
		if v, ok := args[k]; ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				panic(fmt.Sprintf("%s=%s: %v", k, v, err))
			}
			return n
		}
		return def
	}
	if f[0] != "new" && d.core == nil {
		return nil, fmt.Errorf("no core: start with new")
	}
	var eff *Effects[string]
	switch f[0] {
	case "new":
		ret, err := time.ParseDuration(or(args["retention"], "5m"))
		if err != nil {
			return nil, err
		}
		d.cfg = Config{
			Epoch: or(args["epoch"], "e1"), WindowSize: int(num("size", 1024)), WindowBytes: int(num("bytes", 0)),
			Retention: ret, MaxQueueBytes: int(num("queue", 1<<20)),
		}
		d.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		d.log = map[uint64]stored{}
		d.subs = NewSubs[string]()
		d.core = New(d.cfg, d.subs, NewWindow(num("head", 0), d.cfg))
		return []string{"ok"}, nil
	case "stored":
		from, to, err := seqRange(pos[0])
		if err != nil {
			return nil, err
		}
		var out []string
		for s := from; s <= to; s++ {
			fr := eventFrame(s, int(num("size", 0)), args)
			d.log[s] = stored{at: d.now, f: fr}
			if p := d.print(d.core.Stored(s, d.now, fr)); p[0] != none {
				out = append(out, p...)
			}
		}
		if len(out) == 0 {
			out = []string{none}
		}
		return out, nil
	case "logged":
		// Stored while no core ran (the org was down): only the log has it.
		from, to, err := seqRange(pos[0])
		if err != nil {
			return nil, err
		}
		for s := from; s <= to; s++ {
			d.log[s] = stored{at: d.now, f: eventFrame(s, int(num("size", 0)), args)}
		}
		return []string{"ok"}, nil
	case "appended":
		n, err := strconv.ParseUint(pos[0], 10, 64)
		if err != nil {
			return nil, err
		}
		d.core.Appended(n)
		return []string{"head " + strconv.FormatUint(d.core.Head(), 10)}, nil
	case "subscribe":
		_, deflate := args["deflate"]
		for _, p := range pos[1:] {
			deflate = deflate || p == "deflate"
		}
		user := or(args["user"], "u")
		sub := &Sub[string]{ID: pos[0], Org: "acme", User: user, Enc: messages.WSEncoding(deflate), Conn: pos[0], Scope: messages.Scope{User: user}}
		if ts, ok := args["topics"]; ok {
			sub.Scope.Topics = strings.Split(ts, ",")
		}
		_, resume := args["resume"]
		eff = d.core.Subscribe(sub, Position{Resume: resume, Last: num("resume", 0), Epoch: args["epoch"]}, d.now)
	case "bounds":
		_, failed := args["failed"]
		failed = failed || (len(pos) > 1 && pos[1] == "failed")
		eff = d.core.Bounds(pos[0], num("first", 0), num("head", 0), failed)
	case "resolved":
		failed := len(pos) > 1 && pos[1] == "failed"
		eff = d.core.Resolved(pos[0], num("next", 0), failed)
	case "unsubscribe":
		d.core.Unsubscribe(pos[0])
		return []string{"ok"}, nil
	case "overflow":
		eff = d.core.Overflow(pos[0])
	case "tick":
		dur, err := time.ParseDuration(strings.TrimPrefix(pos[0], "+"))
		if err != nil {
			return nil, err
		}
		d.now = d.now.Add(dur)
		d.core.Tick(d.now)
		return d.state()[:1], nil
	case "restart":
		// As the shell's recovery: the window is read again from the log,
		// which keeps what the retention has not dropped.
		win := NewWindow(0, d.cfg)
		for s := uint64(1); s <= uint64(len(d.log)); s++ {
			if e, ok := d.log[s]; ok {
				win.Add(s, e.at, e.f)
			}
		}
		d.core = New(d.cfg, d.subs, win)
		eff = d.core.Restarted(d.now)
	case "state":
		return d.state(), nil
	default:
		return nil, fmt.Errorf("unknown command %q", f[0])
	}
	return d.print(eff), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func seqRange(s string) (from, to uint64, err error) {
	a, b, isRange := strings.Cut(s, "..")
	if from, err = strconv.ParseUint(a, 10, 64); err != nil || !isRange {
		return from, from, err
	}
	to, err = strconv.ParseUint(b, 10, 64)
	return from, to, err
}

// eventFrame is a stand-in for an encoded event: its plain bytes say its seq
// (padded to size), its deflated ones the same, marked; args topic and to
// are its scoped-delivery metadata.
func eventFrame(seq uint64, size int, args map[string]string) *messages.Frame {
	p := []byte("ev" + strconv.FormatUint(seq, 10))
	for len(p) < size {
		p = append(p, '.')
	}
	f := &messages.Frame{Seq: seq, Plain: p, Deflated: append([]byte("z"), p...), Topic: or(args["topic"], "t")}
	if to, ok := args["to"]; ok {
		f.To = strings.Split(to, ",")
	}
	return f
}

// frameText is how a pushed frame prints: an event as ev<seq> (zev<seq>
// when deflated), a welcome or reset as its JSON, without the fields every
// welcome of the driver has.
func frameText(b []byte) string {
	s := string(b)
	if i := strings.Index(s, `{"type"`); i >= 0 {
		s = s[i:]
		s = strings.Replace(s, `,"org":"acme","user":"u"`, "", 1)
	}
	return strings.TrimRight(s, ".")
}

// none is the output of an input without effects.
const none = "(none)"

var pushKinds = [...]string{PushLive: "live", PushCatchUp: "catchup", PushControl: "control"}

func (d *driver) print(eff *Effects[string]) []string {
	var out []string
	for _, p := range eff.Pushes {
		out = append(out, fmt.Sprintf("push %s %s %s", p.Sub.Conn, pushKinds[p.Kind], frameText(p.Bytes())))
	}
	for _, o := range eff.Ops {
		switch o.Kind {
		case OpFlush:
			out = append(out, "flush "+o.Sub.Conn)
		case OpCut:
			out = append(out, fmt.Sprintf("cut %s %d %s", o.Sub.Conn, o.Code, o.Reason))
		case OpResolve:
			out = append(out, fmt.Sprintf("resolve %s resume=%v last=%d epoch=%q head=%d",
				o.Sub.Conn, o.Pos.Resume, o.Pos.Last, o.Pos.Epoch, o.Head))
		case OpReplay:
			snap := "none"
			if len(o.Snap) > 0 {
				snap = fmt.Sprintf("%d..%d", o.Snap[0].Seq, o.Snap[len(o.Snap)-1].Seq)
			}
			out = append(out, fmt.Sprintf("replay %s %d..%d snap=%s", o.Sub.Conn, o.From, o.To, snap))
		}
	}
	if len(out) == 0 {
		out = []string{none}
	}
	return out
}

// state prints the window and each subscriber, in the set's order.
func (d *driver) state() []string {
	w := d.core.win
	out := []string{fmt.Sprintf("window %d..%d (%d events, %d bytes) head %d", w.first(), w.head, len(w.ents), w.bytes, d.core.Head())}
	for _, s := range d.subs.list {
		out = append(out, fmt.Sprintf("sub %s next=%d live=%v welcomed=%v resolving=%v", s.ID, s.next, s.live, s.welcomed, s.resolving))
	}
	return out
}
