//go:build !linux

package soak

import "errors"

// mountSmallDisk: the disk-full fault mounts a tmpfs, which needs Linux;
// elsewhere the soak runs without it.
func mountSmallDisk(string) (*smallDisk, error) {
	return nil, errors.New("needs Linux (mount -t tmpfs)")
}

// unmount is never reached without a mount.
func (d *smallDisk) unmount() error { return nil }
