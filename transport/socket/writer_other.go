//go:build !linux

package socket

import "net"

// rawWriter is Linux-only; elsewhere every push is queued for the writer.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (w *rawWriter) write([]byte) (int, error) { return 0, nil }

func (w *rawWriter) writev(*net.Buffers) error { return nil }
