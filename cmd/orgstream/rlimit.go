package main

import "syscall"

// openFilesLimit is the soft limit on open files, each connection needs one.
// The Go runtime already raises the soft limit to the hard limit at start
// (Go 1.19+), so this only reports it: the hard limit is the machine's to
// set, not ours.
func openFilesLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return l.Cur
}
