package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile profiles the harness itself into path (--cpuprofile), so
// that the cost of its readers per received frame can be read with `go tool
// pprof`; the returned func stops and closes it.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}
