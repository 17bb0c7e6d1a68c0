package collector

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A segment file is a sequence of records:
//
//	uint32 little-endian  payload length (1 to maxRecordBytes)
//	uint32 little-endian  CRC-32C of the payload
//	payload               one Line as compact JSON
//
// Segments are named by their index in the stream ("0000000000000001.seg"); only the highest-numbered
// one is appended to. A crash can leave its last record torn (short or with a bad CRC): opening the
// stream truncates the segment at the first record that does not verify.

const (
	recordHeaderBytes = 8
	maxRecordBytes    = 1 << 24
	segmentSuffix     = ".seg"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordMore, set in a record's length word, marks a record that is followed by more records of the same
// write: one request's lines in one stream are one write, and a write cut short by a crash (a SIGKILL
// can end a large write() part way) is dropped whole when the stream is opened again, so that what was
// never acknowledged is kept whole or not at all. A record with it clear ends its write; records written
// before the bit existed all have it clear, each read as a write of its own.
const recordMore = 1 << 31

// recordLength splits a record's length word into the payload length and recordMore.
func recordLength(word uint32) (int64, bool) { return int64(word &^ recordMore), word&recordMore != 0 }

// markWrite sets recordMore on every record of records but the last: records is one write.
func markWrite(records []byte) {
	for off := 0; len(records)-off >= recordHeaderBytes; {
		n, _ := recordLength(binary.LittleEndian.Uint32(records[off:]))
		next := off + recordHeaderBytes + int(n)
		if next >= len(records) {
			return
		}
		binary.LittleEndian.PutUint32(records[off:], uint32(n)|recordMore)
		off = next
	}
}

// errCorrupt is a record that does not verify where one must: in the committed part of a segment.
var errCorrupt = errors.New("corrupt record")

// appendRecord appends the record of payload to buf.
func appendRecord(buf, payload []byte) []byte {
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(payload)))
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(payload, castagnoli))
	return append(buf, payload...)
}

func segmentName(index uint64) string { return fmt.Sprintf("%016d%s", index, segmentSuffix) }

// segmentFile is a segment file found in a stream's directory.
type segmentFile struct {
	index      uint64
	compressed bool
}

// listSegments returns the segment files in dir, ascending by index. When a segment is there in both
// forms (a crash between compressing it and removing the plain file), the compressed one is listed:
// it is renamed into place only once complete and durable.
func listSegments(dir string) ([]segmentFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	found := make(map[uint64]bool) // index → compressed
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name, compressed := strings.CutSuffix(e.Name(), compressedSuffix)
		if !compressed {
			var ok bool
			if name, ok = strings.CutSuffix(e.Name(), segmentSuffix); !ok {
				continue
			}
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil && n > 0 {
			found[n] = found[n] || compressed
		}
	}
	out := make([]segmentFile, 0, len(found))
	for n, compressed := range found {
		out = append(out, segmentFile{index: n, compressed: compressed})
	}
	slices.SortFunc(out, func(a, b segmentFile) int { return cmp.Compare(a.index, b.index) })
	return out, nil
}

// recordReader reads the records of a segment between a start offset and an end offset.
type recordReader struct {
	br      *bufio.Reader
	off     int64 // offset of the next record
	end     int64
	header  [recordHeaderBytes]byte
	payload []byte
	more    bool // the record next returned last is followed by more of its write
}

func newRecordReader(r io.Reader, off, end int64) *recordReader {
	return &recordReader{br: bufio.NewReaderSize(r, 64<<10), off: off, end: end}
}

// next returns the next record's payload (valid until the following call), io.EOF at end, or
// errCorrupt (wrapped) when the bytes there are not a whole, verified record.
func (rr *recordReader) next() ([]byte, error) {
	if rr.off >= rr.end {
		return nil, io.EOF
	}
	if rr.end-rr.off < recordHeaderBytes {
		return nil, fmt.Errorf("%w at offset %d: short header", errCorrupt, rr.off)
	}
	if _, err := io.ReadFull(rr.br, rr.header[:]); err != nil {
		return nil, fmt.Errorf("%w at offset %d: read header: %w", errCorrupt, rr.off, err)
	}
	n, more := recordLength(binary.LittleEndian.Uint32(rr.header[:4]))
	if n == 0 { // never written: a zero-filled tail would otherwise read as empty records (CRC of nothing is 0)
		return nil, fmt.Errorf("%w at offset %d: empty record", errCorrupt, rr.off)
	}
	if n > maxRecordBytes || rr.end-rr.off-recordHeaderBytes < n {
		return nil, fmt.Errorf("%w at offset %d: length %d past the end", errCorrupt, rr.off, n)
	}
	if int64(cap(rr.payload)) < n {
		rr.payload = make([]byte, n)
	}
	p := rr.payload[:n]
	if _, err := io.ReadFull(rr.br, p); err != nil {
		return nil, fmt.Errorf("%w at offset %d: read payload: %w", errCorrupt, rr.off, err)
	}
	if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(rr.header[4:]) {
		return nil, fmt.Errorf("%w at offset %d: checksum mismatch", errCorrupt, rr.off)
	}
	rr.off += recordHeaderBytes + n
	rr.more = more
	return p, nil
}

// validLength scans a segment from its start and returns the length of its longest prefix of whole,
// verified writes (see recordMore), and how many records that is.
func validLength(f *os.File, size int64) (int64, int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("seek segment: %w", err)
	}
	rr := newRecordReader(f, 0, size)
	var end int64
	count, whole := 0, 0
	for {
		_, err := rr.next()
		switch {
		case err == nil:
			count++
			if !rr.more {
				end, whole = rr.off, count
			}
		case errors.Is(err, io.EOF), errors.Is(err, errCorrupt):
			return end, whole, nil
		default:
			return 0, 0, err
		}
	}
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// mkdirs creates dir and its missing parents under root, and returns the directories whose entries
// changed (the parents of the created ones), to be fsync'd before the data in them is acknowledged.
func mkdirs(root, dir string) ([]string, error) {
	var missing []string
	for d := dir; d != root && d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("stat dir: %w", err)
		}
		missing = append(missing, d)
	}
	var changed []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create dir: %w", err)
		}
		changed = append(changed, filepath.Dir(missing[i]))
	}
	return changed, nil
}
