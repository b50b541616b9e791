package soak

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// mountSmallDisk mounts a tmpfs of diskSize on dir (created). It returns
// why the fault cannot be injected when it cannot.
func mountSmallDisk(dir string) (*smallDisk, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("needs root (mount -t tmpfs)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+diskSize+",mode=0700"); err != nil {
		return nil, fmt.Errorf("mount -t tmpfs -o size=%s %s: %w", diskSize, dir, err)
	}
	return &smallDisk{dir: dir}, nil
}

// unmount detaches the tmpfs (lazily: a daemon killed a moment ago may
// still hold it).
func (d *smallDisk) unmount() error {
	if err := syscall.Unmount(d.dir, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("soak: umount %s: %w", d.dir, err)
	}
	return nil
}
