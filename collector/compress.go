package collector

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// compressSegment writes the compressed form of a sealed plain segment, crash-safely: the gzip goes to a
// temporary file, which is fsync'd, renamed into place, and the directory fsync'd. The plain file is
// left for the caller to remove once readers are pointed at the compressed one. A crash at any point
// leaves either the plain segment (and maybe a temporary file, removed on open) or both forms, of
// which the compressed one is complete (see listSegments).
func compressSegment(dir string, index uint64) (segmentView, error) {
	name := filepath.Join(dir, segmentName(index))
	src, err := os.Open(name)
	if err != nil {
		return segmentView{}, fmt.Errorf("open segment: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return segmentView{}, fmt.Errorf("stat segment: %w", err)
	}
	// First pass: verify every record and index the line times.
	seg := segmentView{index: index, size: fi.Size(), compressed: true}
	rr := newRecordReader(src, 0, fi.Size())
	for {
		payload, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return segmentView{}, fmt.Errorf("verify segment: %w", err)
		}
		t, err := lineTime(payload)
		if err != nil {
			return segmentView{}, fmt.Errorf("index segment at offset %d: %w", rr.off, err)
		}
		seg.times.add(t)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return segmentView{}, fmt.Errorf("seek segment: %w", err)
	}

	final := filepath.Join(dir, compressedName(index))
	tmp := final + tempSuffix
	if err := writeCompressed(tmp, src, seg, fi); err != nil {
		_ = os.Remove(tmp)
		return segmentView{}, err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return segmentView{}, fmt.Errorf("rename compressed segment: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return segmentView{}, err
	}
	return seg, nil
}

// writeCompressed writes the gzip of src, with the segment's index entry in its header, to name and
// fsyncs it.
func writeCompressed(name string, src io.Reader, seg segmentView, fi fs.FileInfo) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create compressed segment: %w", err)
	}
	defer f.Close()
	zw, err := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err != nil {
		return fmt.Errorf("create gzip writer: %w", err)
	}
	zw.Comment = indexComment(seg.size, seg.times)
	zw.ModTime = fi.ModTime()
	if _, err := io.Copy(zw, io.LimitReader(src, seg.size)); err != nil {
		return fmt.Errorf("compress segment: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress segment: %w", err)
	}
	// Retention by age goes by when the segment was last written, not when it was compressed.
	if err := os.Chtimes(name, fi.ModTime(), fi.ModTime()); err != nil {
		return fmt.Errorf("keep segment time: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync compressed segment: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close compressed segment: %w", err)
	}
	return nil
}

// cleanLeftovers removes what a crash during compression can leave in the streams under root:
// temporary files, and plain segments whose compressed form was renamed into place.
func cleanLeftovers(root string, logger *slog.Logger) error {
	err := filepath.WalkDir(filepath.Join(root, "streams"), func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() {
			return err
		}
		base := filepath.Base(path)
		var leftover bool
		switch {
		case strings.HasSuffix(base, compressedSuffix+tempSuffix):
			leftover = true
		case strings.HasSuffix(base, segmentSuffix):
			_, err := os.Stat(strings.TrimSuffix(path, segmentSuffix) + compressedSuffix)
			leftover = err == nil
		}
		if !leftover {
			return nil
		}
		logger.Warn("removing segment left over by a crash during compression", "file", path)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("remove leftover: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clean compression leftovers: %w", err)
	}
	return nil
}
