package source

import (
	"bytes"
	"io"
)

// Format is an archive format Extract understands.
type Format string

// Formats.
const (
	FormatTar   Format = "tar"
	FormatTarGz Format = "tar.gz"
	FormatZip   Format = "zip"
)

// sniff tells the format from the first bytes of the archive: gzip and zip by their magic numbers,
// anything else is read as tar (a v7 tar has no magic, and a bad one fails with a tar error).
func sniff(r io.ReaderAt) Format {
	head := make([]byte, 4)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return FormatTarGz
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return FormatZip
	default:
		return FormatTar
	}
}
