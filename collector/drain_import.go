package collector

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The receiving side of a drain (drain.go). A replica handed a stream by a draining one keeps it as an
// imported copy, apart from its own part of the stream:
//
//	DataDir/imported/<origin>/streams/<kind>/<tenant>/<app>/<name>/<index>.seg
//
// the origin's segments, uncompressed, byte for byte and under the origin's segment indexes. A segment is
// imported whole or not at all: written to a temporary file, verified (every record whole and CRC'd),
// fsync'd, renamed into place and its directory fsync'd before it is acknowledged. Importing it again
// keeps the longer of the two copies (an active segment that grew between two drains is longer; records
// are only ever appended), so a drain interrupted anywhere is run again from the start and ends with
// each segment imported once. Positions in the copy are the origin's, so a union cursor that holds the
// origin's own cursor continues on the copy. Reads take the copy as the origin's part of the stream
// (drain_read.go) once the origin is no longer a member.
//
// Like forwarding and the follow handover between members, these endpoints carry no credentials: the
// collector's API is reachable only inside the cluster (or on 127.0.0.1).

// importedDir is the folder of the imported copies under DataDir.
const importedDir = "imported"

// maxImportBytes bounds one imported segment: well above any SegmentBytes plus a commit cycle.
const maxImportBytes = 4 << 30

// writtenHeader is when the origin last wrote the segment, RFC 3339: the copy's file time.
const writtenHeader = "X-Rainflow-Segment-Written"

// ImportManifest is what a replica holds of an origin's stream: segment index → length in bytes.
type ImportManifest struct {
	Segments map[uint64]int64 `json:"segments"`
}

// importRoot is the folder of the copies of origin's streams.
func (c *Collector) importRoot(origin string) string {
	return filepath.Join(c.cfg.DataDir, importedDir, origin)
}

// importPath is the origin and stream of a /v1/admin/import/{origin}/{kind}/{tenant}/{app}/{name} path;
// a bad one is answered 400, the replica's own name 409.
func (c *Collector) importPath(w http.ResponseWriter, r *http.Request) (string, StreamKey, bool) {
	origin := r.PathValue("origin")
	if !validName(origin) {
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("origin %q is not a member name", origin), 0)
		return "", StreamKey{}, false
	}
	if origin == c.cfg.Self {
		writeProblem(w, http.StatusConflict, fmt.Sprintf("this collector is %s: it does not import its own streams", origin), 0)
		return "", StreamKey{}, false
	}
	key, ok := pathStream(w, r)
	return origin, key, ok
}

// handleImportManifest is GET /v1/admin/import/{origin}/{kind}/{tenant}/{app}/{name}.
func (c *Collector) handleImportManifest(w http.ResponseWriter, r *http.Request) {
	if c.live(w) == nil {
		return
	}
	origin, key, ok := c.importPath(w, r)
	if !ok {
		return
	}
	m := ImportManifest{Segments: map[uint64]int64{}}
	s, err := c.importedStream(origin, key)
	if err != nil {
		writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
		return
	}
	if s != nil {
		for _, seg := range s.segs {
			m.Segments[seg.index] = seg.size
		}
	}
	writeJSON(w, http.StatusOK, m)
}

// handleImportSegment is PUT /v1/admin/import/{origin}/{kind}/{tenant}/{app}/{name}/{segment}: the body
// is the segment's records from its start. It answers the length of the copy now held.
func (c *Collector) handleImportSegment(w http.ResponseWriter, r *http.Request) {
	if c.live(w) == nil {
		return
	}
	origin, key, ok := c.importPath(w, r)
	if !ok {
		return
	}
	index, err := strconv.ParseUint(r.PathValue("segment"), 10, 64)
	if err != nil || index == 0 {
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("segment %q is not a segment index", r.PathValue("segment")), 0)
		return
	}
	written, _ := time.Parse(time.RFC3339Nano, r.Header.Get(writtenHeader)) // zero: now
	size, err := c.importSegment(origin, key, index, written, http.MaxBytesReader(w, r.Body, maxImportBytes))
	var bad *badImportError
	switch {
	case errors.As(err, &bad):
		writeProblem(w, http.StatusBadRequest, err.Error(), 0)
		return
	case err != nil:
		c.logger.Error("import segment", "origin", origin, "stream", key.String(), "segment", index, "err", err)
		writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"size": size})
}

// badImportError is an imported segment that is not whole records.
type badImportError struct{ index, valid, size int64 }

func (e *badImportError) Error() string {
	return fmt.Sprintf("segment %d is not whole records: %d of its %d bytes verify", e.index, e.valid, e.size)
}

// importSegment stores the records of body as segment index of origin's copy of key, durably, unless a
// copy at least as long is there; it returns the length of the copy held. A non-zero written is the
// copy's file time.
func (c *Collector) importSegment(origin string, key StreamKey, index uint64, written time.Time, body io.Reader) (int64, error) {
	dir := key.dir(c.importRoot(origin))
	changed, err := mkdirs(c.cfg.DataDir, dir)
	if err != nil {
		return 0, err
	}
	for _, d := range changed {
		if err := syncDir(d); err != nil {
			return 0, err
		}
	}
	f, err := os.CreateTemp(dir, segmentName(index)+".*"+tempSuffix)
	if err != nil {
		return 0, fmt.Errorf("create imported segment: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename, nothing is there
	defer f.Close()
	size, err := io.Copy(f, body)
	if err != nil {
		return 0, fmt.Errorf("receive segment: %w", err)
	}
	valid, _, err := validLength(f, size)
	if err != nil {
		return 0, err
	}
	if valid != size {
		return 0, &badImportError{index: int64(index), valid: valid, size: size}
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync imported segment: %w", err)
	}
	if !written.IsZero() {
		if err := os.Chtimes(tmp, written, written); err != nil {
			return 0, fmt.Errorf("set imported segment time: %w", err)
		}
	}
	c.drain.importMu.Lock()
	defer c.drain.importMu.Unlock()
	final := filepath.Join(dir, segmentName(index))
	if fi, err := os.Stat(final); err == nil && fi.Size() >= size {
		return fi.Size(), nil
	}
	if err := os.Rename(tmp, final); err != nil {
		return 0, fmt.Errorf("place imported segment: %w", err)
	}
	return size, syncDir(dir)
}

// handleImportPositions is POST /v1/admin/import/{origin}/positions: follow positions of the apps a
// draining member hands over, a map of container instance → position as GET /v1/follow/positions
// answers. They are merged into this replica's positions, which its follower resumes from once it owns
// the apps.
func (c *Collector) handleImportPositions(w http.ResponseWriter, r *http.Request) {
	if c.live(w) == nil {
		return
	}
	var in map[string]followPos
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
		writeProblem(w, http.StatusBadRequest, "decode positions: "+err.Error(), 0)
		return
	}
	pos := (*positions)(nil)
	if f := c.follower.Load(); f != nil {
		pos = f.pos
	} else {
		var err error
		if pos, err = openPositions(filepath.Join(c.cfg.DataDir, "follow-positions.json")); err != nil {
			writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
			return
		}
	}
	if err := pos.merge(in); err != nil {
		writeProblem(w, http.StatusInternalServerError, err.Error(), 0)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"positions": len(in)})
}

// importedStream is this replica's copy of origin's stream key, for reading; nil when it holds none.
func (c *Collector) importedStream(origin string, key StreamKey) (*stream, error) {
	dir := key.dir(c.importRoot(origin))
	files, err := listSegments(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list imported segments of %s from %s: %w", key, origin, err)
	}
	s := &stream{key: key, dir: dir}
	for _, sf := range files {
		seg, err := sealedView(dir, sf)
		if err != nil {
			return nil, fmt.Errorf("imported segment of %s from %s: %w", key, origin, err)
		}
		s.segs = append(s.segs, seg)
	}
	if len(s.segs) == 0 {
		return nil, nil
	}
	return s, nil
}

// importedCopy is a copy of an origin's part of a stream this replica holds, and its length in bytes.
type importedCopy struct {
	origin string
	size   int64
}

// importedOrigins are the copies of key this replica holds, one per origin.
func (c *Collector) importedOrigins(key StreamKey) []importedCopy {
	entries, err := os.ReadDir(filepath.Join(c.cfg.DataDir, importedDir))
	if err != nil {
		return nil
	}
	var out []importedCopy
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		s, err := c.importedStream(e.Name(), key)
		if err != nil || s == nil {
			continue
		}
		ic := importedCopy{origin: e.Name()}
		for _, seg := range s.segs {
			ic.size += seg.size
		}
		out = append(out, ic)
	}
	return out
}

// formatImported is the importedHeader of copies: "origin=size,...".
func formatImported(copies []importedCopy) string {
	parts := make([]string, len(copies))
	for i, ic := range copies {
		parts[i] = ic.origin + "=" + strconv.FormatInt(ic.size, 10)
	}
	return strings.Join(parts, ",")
}

// parseImported reads back formatImported, skipping what it cannot read.
func parseImported(s string) []importedCopy {
	var out []importedCopy
	for _, p := range strings.Split(s, ",") {
		origin, size, _ := strings.Cut(p, "=")
		if n, err := strconv.ParseInt(size, 10, 64); err == nil && validName(origin) {
			out = append(out, importedCopy{origin: origin, size: n})
		}
	}
	return out
}

// holdsImports says whether this replica holds any imported copy.
func (c *Collector) holdsImports() bool {
	_, err := os.Stat(filepath.Join(c.cfg.DataDir, importedDir))
	return err == nil
}

// cleanImportLeftovers removes the temporary files of imports a crash interrupted.
func cleanImportLeftovers(root string) error {
	err := filepath.WalkDir(filepath.Join(root, importedDir), func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, tempSuffix) {
			return err
		}
		return os.Remove(path)
	})
	if err != nil {
		return fmt.Errorf("clean import leftovers: %w", err)
	}
	return nil
}

// sweepCopies applies retention to the imported copies, as to the streams themselves. The file times
// of a copy's segments are the origin's (writtenHeader), so retention by age goes by when the lines
// were written.
func (m *maintainer) sweepCopies() error {
	origins, err := filepath.Glob(filepath.Join(m.store.root, importedDir, "*"))
	if err != nil {
		return fmt.Errorf("list imported copies: %w", err)
	}
	for _, root := range origins {
		keys, err := streamKeys(root)
		if err != nil {
			return err
		}
		for _, key := range keys {
			if m.stopping() {
				return nil
			}
			if err := m.maintainIn(root, key, false); err != nil {
				m.logger.Warn("maintain imported copy", "origin", filepath.Base(root), "stream", key.String(), "err", err)
			}
		}
	}
	return nil
}
