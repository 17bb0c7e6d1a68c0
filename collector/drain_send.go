package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The sending side of a drain: a stream is handed segment by segment. The receiver says which segments
// of the origin's stream it holds and how long each is (GET .../import/{origin}/{stream}); every segment
// it lacks, or holds shorter, is sent whole, uncompressed, up to the committed end (PUT
// .../import/{origin}/{stream}/{segment}).

// segmentTimeout bounds sending one segment (up to SegmentBytes, 64 MiB by default).
const segmentTimeout = 5 * time.Minute

// handStream hands one stored stream to owner and returns how many segments it sent.
func (c *Collector) handStream(ctx context.Context, rn *running, s storedStream, owner Member) (int, error) {
	var src *stream
	var err error
	if s.origin == c.cfg.Self {
		src, err = rn.store.get(s.key, false)
	} else {
		src, err = c.importedStream(s.origin, s.key)
	}
	if errors.Is(err, errNoStream) || err == nil && src == nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	have, err := c.askManifest(ctx, owner, s)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, seg := range src.view() {
		if seg.size == 0 || have.Segments[seg.index] >= seg.size {
			continue
		}
		err := c.putSegment(ctx, owner, s, src.dir, seg)
		if errors.Is(err, errSegmentGone) { // removed by retention meanwhile
			continue
		}
		if err != nil {
			return sent, fmt.Errorf("send segment %d: %w", seg.index, err)
		}
		sent++
		c.progress(func(st *DrainStatus) { st.SegmentsSent++; st.BytesSent += seg.size })
	}
	return sent, nil
}

// importURL is the import endpoint of owner for s, with more path elements after it.
func importURL(owner Member, s storedStream, more ...string) string {
	return owner.URL + "/v1/admin/import/" + s.origin + "/" + s.key.String() + strings.Join(append([]string{""}, more...), "/")
}

// askManifest asks owner what it holds of s.
func (c *Collector) askManifest(ctx context.Context, owner Member, s storedStream) (ImportManifest, error) {
	var m ImportManifest
	body, err := c.adminCall(ctx, http.MethodGet, importURL(owner, s), nil, -1, c.cfg.ForwardTimeout)
	if err != nil {
		return m, fmt.Errorf("ask what %s holds: %w", owner.Name, err)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("decode manifest of %s: %w", owner.Name, err)
	}
	return m, nil
}

// putSegment sends segment seg of the stream in dir, its records from the start to its committed end.
func (c *Collector) putSegment(ctx context.Context, owner Member, s storedStream, dir string, seg segmentView) error {
	f, name, err := openSegment(dir, seg)
	if err != nil {
		return err
	}
	defer f.Close()
	var records io.Reader = io.NewSectionReader(f, 0, seg.size)
	if strings.HasSuffix(name, compressedSuffix) {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("read compressed segment %s: %w", name, err)
		}
		defer zr.Close()
		records = io.LimitReader(zr, seg.size)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat segment: %w", err)
	}
	header := http.Header{writtenHeader: {fi.ModTime().UTC().Format(time.RFC3339Nano)}}
	_, err = c.adminCall(ctx, http.MethodPut, importURL(owner, s, fmt.Sprint(seg.index)), records, seg.size, segmentTimeout, header)
	return err
}

// handPositions stops following every app this replica followed (each tail commits what it read first)
// and hands the apps' follow positions to their new owners; it returns how many it handed.
func (c *Collector) handPositions(ctx context.Context, f *follower) (int, error) {
	byOwner := make(map[string]map[string]followPos)
	owners := make(map[string]Member)
	for a := range f.followedApps() {
		f.release(a)
		owner, local, ok := c.members.owner(a.tenant, a.app)
		if !ok || local {
			return 0, fmt.Errorf("hand follow positions of app %s/%s: no other member owns it", a.tenant, a.app)
		}
		if byOwner[owner.Name] == nil {
			byOwner[owner.Name], owners[owner.Name] = make(map[string]followPos), owner
		}
		for id, pos := range f.pos.forApp(a.tenant, a.app) {
			byOwner[owner.Name][id] = pos
		}
	}
	n := 0
	for name, pos := range byOwner {
		b, err := json.Marshal(pos)
		if err != nil {
			return n, fmt.Errorf("encode follow positions: %w", err)
		}
		u := owners[name].URL + "/v1/admin/import/" + c.cfg.Self + "/positions"
		if _, err := c.adminCall(ctx, http.MethodPost, u, bytes.NewReader(b), int64(len(b)), c.cfg.ForwardTimeout); err != nil {
			return n, fmt.Errorf("hand follow positions to %s: %w", name, err)
		}
		n += len(pos)
	}
	return n, nil
}

// followedApps are the apps the follower follows or has positions of.
func (f *follower) followedApps() map[appKey]bool {
	out := make(map[appKey]bool)
	f.mu.Lock()
	for _, tl := range f.tails {
		out[tl.app] = true
	}
	f.mu.Unlock()
	f.pos.mu.Lock()
	for _, pos := range f.pos.m {
		out[appKey{pos.Tenant, pos.App}] = true
	}
	f.pos.mu.Unlock()
	return out
}

// adminCall sends a request to another member's admin API and returns the body of its 200 answer; an
// answer other than 200 is a partError. size is the body's length (-1: none or unknown); headers are
// added to the request.
func (c *Collector) adminCall(ctx context.Context, method, u string, body io.Reader, size int64, timeout time.Duration,
	headers ...http.Header) ([]byte, error) {
	out, _, err := c.memberCall(ctx, method, u, body, size, timeout, headers...)
	return out, err
}

// memberCall is adminCall answering the headers of the answer too: one way for every request a member
// sends another (union reads, drain).
func (c *Collector) memberCall(ctx context.Context, method, u string, body io.Reader, size int64, timeout time.Duration,
	headers ...http.Header) ([]byte, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", err)
	}
	if size >= 0 && body != nil {
		req.ContentLength = size
	}
	for _, h := range headers {
		for name, v := range h {
			req.Header[name] = v
		}
	}
	req.Header.Set(ForwardedHeader, c.cfg.Self)
	res, err := c.forwardClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(io.LimitReader(res.Body, 1<<30))
	if err != nil {
		return nil, nil, fmt.Errorf("read answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, nil, newPartError(res.StatusCode, out)
	}
	return out, res.Header, nil
}
