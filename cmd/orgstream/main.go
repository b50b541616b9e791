// Command orgstream is the orgstream daemon and its command-line tools:
//
//	orgstream serve     run the daemon (HTTP + WebSocket + embedded NATS)
//	orgstream token     print a signed access token
//	orgstream publish   publish one event over HTTP
//	orgstream nats-creds print the NATS publisher credentials
//	orgstream version   print the version
//
// Every flag also reads ORGSTREAM_<FLAG> from the environment (dashes become
// underscores: --jwt-secret ⇔ ORGSTREAM_JWT_SECRET); a flag given on the
// command line wins. Mistakes on the command line exit with status 2.
//
// This package only binds flags and wires parts; the daemon is package node.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// cli is what a command reads and writes; tests build their own.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            func(string) string
	// prog is how the hints spell this binary ("./bin/orgstream").
	prog string
}

// run executes one command line and returns the process exit status: 0 ok,
// 1 failure, 2 usage error.
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, env: env, prog: progName(os.Args[0])}
	return c.run(context.Background(), args)
}

type command struct {
	name  string
	short string
	run   func(c *cli, ctx context.Context, args []string) error
	help  func(w io.Writer)
}

func commands() []command {
	return []command{
		{"serve", serveShort, (*cli).serve, func(w io.Writer) { newServeFlags(&serveOptions{}).help(w, serveExtra) }},
		{"token", tokenShort, (*cli).token, func(w io.Writer) { newTokenFlags(&tokenOptions{}).help(w, tokenExtra) }},
		{"publish", publishShort, (*cli).publish, func(w io.Writer) { newPublishFlags(&publishOptions{}).help(w, publishExtra) }},
		{"nats-creds", natsCredsShort, (*cli).natsCreds, func(w io.Writer) { newNATSCredsFlags(&natsCredsOptions{}).help(w, natsCredsExtra) }},
		{"version", versionShort, (*cli).version, func(w io.Writer) { newVersionFlags().help(w, "") }},
	}
}

func findCommand(name string) (command, bool) {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(c.stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		usage(c.stdout)
		return 0
	case "help":
		return c.helpCommand(rest)
	case "-version", "--version":
		name = "version"
	}
	cmd, ok := findCommand(name)
	if !ok {
		if len(name) > 0 && name[0] == '-' {
			fmt.Fprintf(c.stderr, "orgstream: unknown flag %s before the command (see orgstream --help)\n", name)
		} else {
			fmt.Fprintf(c.stderr, "orgstream: unknown command %q (see orgstream --help)\n", name)
		}
		return 2
	}
	return c.exit(cmd, cmd.run(c, ctx, rest))
}

// exit maps a command's error to its status and prints it.
func (c *cli) exit(cmd command, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		cmd.help(c.stdout)
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(c.stderr, ue.msg)
		return 2
	default:
		fmt.Fprintf(c.stderr, "orgstream %s: %v\n", cmd.name, err)
		return 1
	}
}

func (c *cli) helpCommand(args []string) int {
	switch len(args) {
	case 0:
		usage(c.stdout)
		return 0
	case 1:
		if cmd, ok := findCommand(args[0]); ok {
			cmd.help(c.stdout)
			return 0
		}
		fmt.Fprintf(c.stderr, "orgstream help: unknown command %q (see orgstream --help)\n", args[0])
		return 2
	default:
		fmt.Fprintln(c.stderr, "orgstream help: takes at most one command name")
		return 2
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, "orgstream: a real-time event gateway. Backends publish events for an org;\n"+
		"the org's WebSocket clients receive them in order, numbered, and resume after\n"+
		"a reconnect with exactly what they missed.\n\n"+
		"Usage:\n  orgstream <command> [flags]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "show the flags of a command (orgstream help serve)")
	fmt.Fprint(w, "\nEvery flag also reads the environment variable ORGSTREAM_<FLAG>, dashes as\n"+
		"underscores (--jwt-secret ⇔ ORGSTREAM_JWT_SECRET); a flag on the command line\n"+
		"wins. Unknown flags and commands exit with status 2.\n"+
		"Run \"orgstream <command> --help\" for the flags of a command.\n")
}
