package collector

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// records encodes n lines of msg as segment records.
func records(t *testing.T, n int, msg string) []byte {
	t.Helper()
	var enc lineEncoder
	var out []byte
	for i := range n {
		l := event("op", fmt.Sprintf("%s %d", msg, i))
		require.NoError(t, l.normalize(time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)))
		out = enc.appendRecord(out, &l)
	}
	return out
}

func TestImportSegment(t *testing.T) {
	t.Parallel()
	whole := records(t, 10, "line")
	longer := append(bytes.Clone(whole), records(t, 5, "more")...)
	tests := []struct {
		name     string
		imports  [][]byte // in turn
		wantCode []int    // of each import
		want     int64    // the copy's length in the end
	}{
		{name: "whole", imports: [][]byte{whole}, wantCode: []int{http.StatusOK}, want: int64(len(whole))},
		{name: "twice", imports: [][]byte{whole, whole}, wantCode: []int{http.StatusOK, http.StatusOK}, want: int64(len(whole))},
		{name: "grown", imports: [][]byte{whole, longer}, wantCode: []int{http.StatusOK, http.StatusOK}, want: int64(len(longer))},
		{name: "shorter after longer", imports: [][]byte{longer, whole}, wantCode: []int{http.StatusOK, http.StatusOK}, want: int64(len(longer))},
		{name: "torn", imports: [][]byte{whole[:len(whole)-3]}, wantCode: []int{http.StatusBadRequest}, want: 0},
		{name: "torn after whole", imports: [][]byte{whole, longer[:len(longer)-1]}, wantCode: []int{http.StatusOK, http.StatusBadRequest},
			want: int64(len(whole))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := startCollector(t, Config{})
			key := eventStream("op")
			u := n.base + "/v1/admin/import/c-9/" + key.String()
			for i, body := range tt.imports {
				req, err := http.NewRequest(http.MethodPut, u+"/3", bytes.NewReader(body))
				require.NoError(t, err)
				res, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				res.Body.Close()
				require.Equal(t, tt.wantCode[i], res.StatusCode, "import %d", i)
			}
			s, err := n.importedStream("c-9", key)
			require.NoError(t, err)
			if tt.want == 0 {
				require.Nil(t, s)
			} else {
				require.Equal(t, []segmentView{{index: 3, size: tt.want}}, s.segs)
			}
			left, err := filepath.Glob(filepath.Join(n.cfg.DataDir, importedDir, "*", "streams", "*", "*", "*", "*", "*"+tempSuffix))
			require.NoError(t, err)
			require.Empty(t, left, "temporary files")
		})
	}
}

func TestImportRefusesItsOwnName(t *testing.T) {
	t.Parallel()
	addr := freePort(t)
	n := startCollectorAt(t, Config{Partition: Partition{Self: "c-0", Members: []string{"c-0=http://" + addr, "c-1=http://127.0.0.1:1"}}}, addr)
	req, err := http.NewRequest(http.MethodPut, n.base+"/v1/admin/import/c-0/"+eventStream("op").String()+"/1", bytes.NewReader(records(t, 1, "x")))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusConflict, res.StatusCode)
}

func TestImportLeftoversCleanedOnStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key := eventStream("op")
	sdir := key.dir(filepath.Join(dir, importedDir, "c-9"))
	require.NoError(t, os.MkdirAll(sdir, 0o755))
	tmp := filepath.Join(sdir, segmentName(1)+".123"+tempSuffix)
	require.NoError(t, os.WriteFile(tmp, []byte("torn"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(sdir, segmentName(1)), records(t, 2, "kept"), 0o644))
	n := startCollector(t, Config{DataDir: dir})
	_, err := os.Stat(tmp)
	require.ErrorIs(t, err, os.ErrNotExist)
	p, _, err := n.readImported(key, "c-9", query{limit: 10, maxScanBytes: maxScanBytes})
	require.NoError(t, err)
	require.Equal(t, []string{"kept 0", "kept 1"}, messages(p.lines))
}

func TestImportedCopiesKeepRetention(t *testing.T) {
	t.Parallel()
	n := startCollector(t, Config{Retention: RetentionConfig{SweepInterval: 10 * time.Millisecond,
		Event: Retention{MaxAge: time.Hour, MaxBytes: 1 << 30}}})
	key := eventStream("op")
	old := time.Now().Add(-48 * time.Hour)
	for i, written := range []time.Time{old, old, time.Now(), old} { // the last one stays: it was the origin's active one
		req, err := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/v1/admin/import/c-9/%s/%d", n.base, key, i+1),
			bytes.NewReader(records(t, 3, fmt.Sprintf("segment %d", i+1))))
		require.NoError(t, err)
		req.Header.Set(writtenHeader, written.Format(time.RFC3339Nano))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	require.Eventually(t, func() bool {
		s, err := n.importedStream("c-9", key)
		require.NoError(t, err)
		var kept []uint64
		for _, seg := range s.segs {
			kept = append(kept, seg.index)
		}
		return slices.Equal(kept, []uint64{3, 4})
	}, 10*time.Second, 10*time.Millisecond, "the old sealed segments of the copy removed by age")
}

func TestAddImportedReadsOneCopyPerFormerMember(t *testing.T) {
	t.Parallel()
	a, b, c := Member{Name: "c-0"}, Member{Name: "c-1"}, Member{Name: "c-2"}
	tests := []struct {
		name    string
		members []Member
		parts   []memberPart
		want    map[string]string // origin → holder read
	}{
		{name: "origin still a member", members: []Member{a, b, c},
			parts: []memberPart{{member: a, imported: []importedCopy{{origin: "c-2", size: 10}}}, {member: b}, {member: c}},
			want:  map[string]string{}},
		{name: "one copy", members: []Member{a, b},
			parts: []memberPart{{member: a}, {member: b, imported: []importedCopy{{origin: "c-2", size: 10}}}},
			want:  map[string]string{"c-2": "c-1"}},
		{name: "the longest of two copies", members: []Member{a, b},
			parts: []memberPart{{member: a, imported: []importedCopy{{origin: "c-2", size: 5}}}, {member: b, imported: []importedCopy{{origin: "c-2", size: 10}}}},
			want:  map[string]string{"c-2": "c-1"}},
		{name: "copies as long: the first holder by name", members: []Member{a, b},
			parts: []memberPart{{member: b, imported: []importedCopy{{origin: "c-2", size: 10}}}, {member: a, imported: []importedCopy{{origin: "c-2", size: 10}}}},
			want:  map[string]string{"c-2": "c-0"}},
		{name: "two former members", members: []Member{a},
			parts: []memberPart{{member: a, imported: []importedCopy{{origin: "c-2", size: 1}, {origin: "c-1", size: 1}}}},
			want:  map[string]string{"c-1": "c-0", "c-2": "c-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := addImported(tt.members, tt.parts, func(p memberPart) (memberPart, error) { return memberPart{}, nil })
			require.NoError(t, err)
			read := map[string]string{}
			for _, p := range got[len(tt.parts):] {
				read[p.origin] = p.member.Name
				require.Equal(t, p.origin, p.name())
			}
			require.Equal(t, tt.want, read)
		})
	}
}
