package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at build time: -ldflags "-X main.version=$(git describe --always --dirty)".
var version = "dev"

// versionString is version, or, in a binary built without it (`go install
// github.com/orgstream/orgstream/cmd/orgstream@v0.2.0`), the module version
// the go command recorded in it.
func versionString() string {
	return versionOf(version, debug.ReadBuildInfo)
}

func versionOf(stamped string, info func() (*debug.BuildInfo, bool)) string {
	if stamped != "dev" {
		return stamped
	}
	if bi, ok := info(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return stamped
}

const versionShort = "print the version"

func newVersionFlags() *flagSet {
	return newFlagSet("version", "Print orgstream's version and the Go version it was built with.")
}

func (c *cli) version(_ context.Context, args []string) error {
	if err := newVersionFlags().parse(args, c.env); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "orgstream %s (%s)\n", versionString(), runtime.Version())
	return err
}
