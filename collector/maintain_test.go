package collector

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fill ingests n lines of op with noisy (barely compressible) messages, line i at base+i seconds, in
// requests of 10, and returns their messages.
func fill(t *testing.T, tc *testCollector, op string, n int, base time.Time) []string {
	t.Helper()
	var all []string
	for i := 0; i < n; i += 10 {
		var lines []Line
		for j := i; j < min(i+10, n); j++ {
			l := event(op, fmt.Sprintf("line %04d %016x%016x", j, rand.Uint64(), rand.Uint64()))
			l.Time = base.Add(time.Duration(j) * time.Second)
			lines = append(lines, l)
			all = append(all, l.Message)
		}
		tc.ingest(t, lines...)
	}
	return all
}

// segmentFiles lists the names of a stream's segment files.
func segmentFiles(t *testing.T, dir string, key StreamKey) []string {
	t.Helper()
	entries, err := os.ReadDir(key.dir(dir))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestSealedSegmentsAreCompressed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tc := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: 10 * time.Millisecond}})
	key := eventStream("op-z")
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := fill(t, tc, "op-z", 300, base)
	require.Eventually(t, func() bool {
		names := segmentFiles(t, dir, key)
		plain := 0
		for _, n := range names {
			if strings.HasSuffix(n, segmentSuffix) {
				plain++
			}
		}
		return plain == 1 && len(names) > 3
	}, 10*time.Second, 10*time.Millisecond, "every sealed segment compressed, the active one not")
	assert.Equal(t, want, messages(tc.readAll(t, key)))

	tests := []struct {
		name         string
		since, until int // seconds after base
	}{
		{name: "middle", since: 100, until: 110},
		{name: "start", since: 0, until: 3},
		{name: "end", since: 295, until: 400},
		{name: "none", since: 500, until: 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tc.read(t, key, url.Values{"since": {base.Add(time.Duration(tt.since) * time.Second).Format(time.RFC3339)},
				"until": {base.Add(time.Duration(tt.until) * time.Second).Format(time.RFC3339)}})
			lo, hi := min(tt.since, len(want)), min(tt.until, len(want))
			assert.Equal(t, nilIfEmpty(want[lo:hi]), nilIfEmpty(messages(p.Lines)))
		})
	}

	// Reopened, the compressed segments are read from their index entries.
	tc.stop()
	again := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096})
	assert.Equal(t, want, messages(again.readAll(t, key)))
	assert.Contains(t, again.metricsText(t), "rainflow_collector_lines_out_total{kind=\"event\",via=\"read\"}")
}

func TestCompressionLeftoversCleanedOnOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := eventStream("op-crash")
	tc := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: -1}})
	want := fill(t, tc, "op-crash", 100, time.Now())
	tc.stop()
	// Segment 1 is compressed but the crash came before its plain file was removed; segment 2 was
	// being compressed.
	sdir := key.dir(dir)
	_, err := compressSegment(sdir, 1)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(sdir, compressedName(2)+tempSuffix), []byte("torn"), 0o644))

	again := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: -1}})
	names := segmentFiles(t, dir, key)
	assert.NotContains(t, names, segmentName(1))
	assert.NotContains(t, names, compressedName(2)+tempSuffix)
	assert.Equal(t, want, messages(again.readAll(t, key)))
}

func TestRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		retention Retention
		age       time.Duration // how long ago the first run's segments were written
		reason    string
	}{
		{name: "by size", retention: Retention{MaxBytes: 3 * 4096}, reason: "size"},
		{name: "by age", retention: Retention{MaxAge: time.Hour}, age: 2 * time.Hour, reason: "age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			key := eventStream("op-old")
			cfg := Config{DataDir: dir, SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: -1}}
			tc := startCollector(t, cfg)
			old := fill(t, tc, "op-old", 200, time.Now())
			tc.stop()
			if tt.age > 0 {
				files, err := listSegments(key.dir(dir))
				require.NoError(t, err)
				for _, sf := range files {
					name := filepath.Join(key.dir(dir), segmentName(sf.index))
					if sf.compressed {
						name = filepath.Join(key.dir(dir), compressedName(sf.index))
					}
					require.NoError(t, os.Chtimes(name, time.Now().Add(-tt.age), time.Now().Add(-tt.age)))
				}
			}

			cfg.Retention = RetentionConfig{Event: tt.retention, SweepInterval: 10 * time.Millisecond}
			again := startCollector(t, cfg)
			recent := fill(t, again, "op-old", 30, time.Now())
			want := append(old, recent...)
			require.Eventually(t, func() bool {
				return strings.Contains(again.metricsText(t), `rainflow_collector_retention_removed_segments_total{kind="event",reason="`+tt.reason+`"}`)
			}, 10*time.Second, 10*time.Millisecond)
			got := messages(again.readAll(t, key))
			require.NotEmpty(t, got)
			assert.Less(t, len(got), len(want), "old segments removed")
			assert.Equal(t, want[len(want)-len(got):], got, "what is left is the end of the stream, whole")
			assert.Equal(t, recent, got[len(got)-len(recent):], "the active segment is kept")
		})
	}
}

func TestOpenRecordsFollowsTheSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := eventStream("op-move")
	tc := startCollector(t, Config{DataDir: dir, SegmentBytes: 4096, Retention: RetentionConfig{SweepInterval: -1}})
	want := fill(t, tc, "op-move", 60, time.Now())
	rn := tc.running.Load()
	s, err := rn.store.get(key, false)
	require.NoError(t, err)
	plainView := s.view()[0]
	require.False(t, plainView.compressed)

	read := func() ([]string, error) {
		var out []Line
		var scanned int64
		pos := position{segment: plainView.index}
		_, err := readSegment(s.dir, plainView, &pos, newMatcher(query{maxScanBytes: maxScanBytes}), 1000, &out, &scanned)
		return messages(out), err
	}
	first, err := read()
	require.NoError(t, err)
	require.Equal(t, want[:len(first)], first)

	_, err = compressSegment(s.dir, plainView.index)
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(s.dir, segmentName(plainView.index))))
	got, err := read()
	require.NoError(t, err, "a view taken before compression reads the compressed form")
	assert.Equal(t, first, got)

	require.NoError(t, os.Remove(filepath.Join(s.dir, compressedName(plainView.index))))
	_, err = read()
	assert.ErrorIs(t, err, errSegmentGone)
}

func TestTimeRangeOutside(t *testing.T) {
	t.Parallel()
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	tr := timeRange{first: at(10), last: at(20)}
	tests := []struct {
		name         string
		tr           timeRange
		since, until time.Time
		want         bool
	}{
		{name: "unbounded", tr: tr},
		{name: "unknown range", tr: timeRange{}, since: at(100)},
		{name: "all before since", tr: tr, since: at(21), want: true},
		{name: "last at since", tr: tr, since: at(20)},
		{name: "first at until", tr: tr, until: at(10), want: true},
		{name: "overlapping", tr: tr, since: at(15), until: at(30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.tr.outside(tt.since, tt.until))
		})
	}
	size, got, err := parseIndexComment(indexComment(123, tr))
	require.NoError(t, err)
	assert.EqualValues(t, 123, size)
	assert.True(t, got.first.Equal(tr.first) && got.last.Equal(tr.last))
}
