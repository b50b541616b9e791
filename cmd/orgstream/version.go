package main

import (
	"context"
	"fmt"
	"runtime"
)

// version is set at build time: -ldflags "-X main.version=$(git describe --always --dirty)".
var version = "dev"

const versionShort = "print the version"

func newVersionFlags() *flagSet {
	return newFlagSet("version", "Print orgstream's version and the Go version it was built with.")
}

func (c *cli) version(_ context.Context, args []string) error {
	if err := newVersionFlags().parse(args, c.env); err != nil {
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "orgstream %s (%s)\n", version, runtime.Version())
	return err
}
