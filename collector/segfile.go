package collector

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A sealed segment may be compressed: "0000000000000001.segz" is the gzip of the very same records, so
// positions (record offsets) mean the same in both forms. Its gzip header's comment is the segment's
// index entry: its length uncompressed and the first and last line time in it (the oldest and newest
// Line.Time, which need not be in order), so a time-range read skips it without opening more than the
// header. The header's ModTime (and the file's) is when the segment was last written, which retention
// by age goes by.

const (
	compressedSuffix = ".segz"
	tempSuffix       = ".tmp"
	indexPrefix      = "rainflow-segment-v1"
)

// errSegmentGone is a segment removed (by retention) after a reader took its view.
var errSegmentGone = errors.New("segment removed")

func compressedName(index uint64) string {
	return fmt.Sprintf("%016d%s", index, compressedSuffix)
}

// timeRange is the oldest and newest line time of a segment; zero when unknown.
type timeRange struct {
	first, last time.Time
}

// known says whether the range is known.
func (tr timeRange) known() bool { return !tr.first.IsZero() }

// add widens the range to t.
func (tr *timeRange) add(t time.Time) {
	if tr.first.IsZero() || t.Before(tr.first) {
		tr.first = t
	}
	if tr.last.IsZero() || t.After(tr.last) {
		tr.last = t
	}
}

// outside says whether no line of the range can be in [since, until).
func (tr timeRange) outside(since, until time.Time) bool {
	if !tr.known() {
		return false
	}
	return !since.IsZero() && tr.last.Before(since) || !until.IsZero() && !tr.first.Before(until)
}

// indexComment is the gzip comment of a compressed segment of size bytes.
func indexComment(size int64, tr timeRange) string {
	return fmt.Sprintf("%s size=%d first=%d last=%d", indexPrefix, size, tr.first.UnixNano(), tr.last.UnixNano())
}

// parseIndexComment reads back indexComment.
func parseIndexComment(s string) (int64, timeRange, error) {
	fields := strings.Fields(s)
	if len(fields) != 4 || fields[0] != indexPrefix {
		return 0, timeRange{}, fmt.Errorf("segment index %q is not %s", s, indexPrefix)
	}
	var nums [3]int64
	for i, f := range fields[1:] {
		_, v, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return 0, timeRange{}, fmt.Errorf("segment index field %q is not name=number", f)
		}
		nums[i] = n
	}
	return nums[0], timeRange{first: time.Unix(0, nums[1]), last: time.Unix(0, nums[2])}, nil
}

// readCompressedIndex reads the index entry of a compressed segment from its gzip header.
func readCompressedIndex(name string) (int64, timeRange, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, timeRange{}, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0, timeRange{}, fmt.Errorf("read gzip header of %s: %w", name, err)
	}
	return parseIndexComment(zr.Comment)
}

// segmentRecords is a reader of one segment's records from an offset, whatever its form.
type segmentRecords struct {
	*recordReader
	f  *os.File
	zr *gzip.Reader
}

func (sr *segmentRecords) Close() error {
	if sr.zr != nil {
		_ = sr.zr.Close()
	}
	return sr.f.Close()
}

// openRecords opens segment seg of the stream in dir at offset from, reading up to seg.size. The
// segment may have been compressed or removed since the view was taken: it tries the other form, and
// answers errSegmentGone when neither is there.
func openRecords(dir string, seg segmentView, from int64) (*segmentRecords, error) {
	f, name, err := openSegment(dir, seg)
	if err != nil {
		return nil, err
	}
	sr := &segmentRecords{f: f}
	if !strings.HasSuffix(name, compressedSuffix) {
		if _, err := f.Seek(from, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("seek segment: %w", err)
		}
		sr.recordReader = newRecordReader(f, from, seg.size)
		return sr, nil
	}
	if sr.zr, err = gzip.NewReader(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("read compressed segment %s: %w", name, err)
	}
	if _, err := io.CopyN(io.Discard, sr.zr, from); err != nil {
		sr.Close()
		return nil, fmt.Errorf("skip to offset %d of compressed segment %s: %w", from, name, err)
	}
	sr.recordReader = newRecordReader(sr.zr, from, seg.size)
	return sr, nil
}

// openSegment opens segment seg of the stream in dir in whichever form it is now (see openRecords) and
// returns the file and its name.
func openSegment(dir string, seg segmentView) (*os.File, string, error) {
	names := []string{segmentName(seg.index), compressedName(seg.index)}
	if seg.compressed {
		names[0], names[1] = names[1], names[0]
	}
	var f *os.File
	var err error
	var name string
	for _, name = range names {
		if f, err = os.Open(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", errSegmentGone
	}
	if err != nil {
		return nil, "", fmt.Errorf("open segment: %w", err)
	}
	return f, name, nil
}

// lineTime is the Time of an encoded line, read from its start when it is where the encoder puts it.
func lineTime(payload []byte) (time.Time, error) {
	const prefix = `{"time":"`
	if rest, ok := bytes.CutPrefix(payload, []byte(prefix)); ok {
		if end := bytes.IndexByte(rest, '"'); end > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(rest[:end])); err == nil {
				return t, nil
			}
		}
	}
	var l struct {
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(payload, &l); err != nil {
		return time.Time{}, fmt.Errorf("decode line time: %w", err)
	}
	return l.Time, nil
}
