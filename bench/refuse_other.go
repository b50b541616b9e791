//go:build !unix

package bench

import "fmt"

// refusedAddr needs a bound socket that never listens; see refuse_unix.go.
type refusedAddr struct{ addr string }

func newRefusedAddr() (*refusedAddr, error) {
	return nil, fmt.Errorf("%w: partitions need a unix system", ErrConfig)
}

func (*refusedAddr) Close() error { return nil }
