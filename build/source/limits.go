// Package source turns an uploaded archive (tar, tar.gz or zip) into a source directory a build can
// read: every entry is checked before anything is written, so an archive can neither escape the
// directory it is extracted into nor exhaust the disk.
package source

import (
	"errors"
	"fmt"
)

// Default limits for one archive.
const (
	DefaultMaxTotalBytes = 1 << 30   // 1 GiB extracted
	DefaultMaxFiles      = 50_000    // entries of any kind
	DefaultMaxFileBytes  = 256 << 20 // 256 MiB for one file
	DefaultMaxPathLen    = 1024      // bytes in one entry name
)

// Limits bounds what one archive may write. Zero fields take the defaults (see WithDefaults).
type Limits struct {
	MaxTotalBytes int64 // bytes written over all regular files
	MaxFiles      int   // entries of any kind (files, directories, symlinks)
	MaxFileBytes  int64 // bytes in one regular file
	MaxPathLen    int   // bytes in one entry name
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = DefaultMaxFiles
	}
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = DefaultMaxFileBytes
	}
	if l.MaxPathLen == 0 {
		l.MaxPathLen = DefaultMaxPathLen
	}
	return l
}

// Validate reports limits that cannot work.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxTotalBytes < 0 {
		errs = append(errs, fmt.Errorf("max total bytes %d is negative", l.MaxTotalBytes))
	}
	if l.MaxFiles < 0 {
		errs = append(errs, fmt.Errorf("max files %d is negative", l.MaxFiles))
	}
	if l.MaxFileBytes < 0 {
		errs = append(errs, fmt.Errorf("max file bytes %d is negative", l.MaxFileBytes))
	}
	if l.MaxPathLen < 0 {
		errs = append(errs, fmt.Errorf("max path length %d is negative", l.MaxPathLen))
	}
	if l.MaxTotalBytes > 0 && l.MaxFileBytes > l.MaxTotalBytes {
		errs = append(errs, fmt.Errorf("max file bytes %d exceeds max total bytes %d", l.MaxFileBytes, l.MaxTotalBytes))
	}
	return errors.Join(errs...)
}
