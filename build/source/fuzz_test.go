package source

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// FuzzExtract feeds arbitrary bytes as an archive and checks that whatever is written stays inside
// the destination: no symlink resolves outside it and no file keeps a setuid, setgid or
// world-writable bit.
func FuzzExtract(f *testing.F) {
	seeds := [][]ent{
		{dir("a/"), file("a/b", "x"), symlink("a/l", "b")},
		{symlink("l", "../x")},
		{file("../x", "y")},
		{symlink("s", "."), file("s/x", "y")},
	}
	for _, s := range seeds {
		f.Add(tarBytes(f, s))
		f.Add(gzBytes(f, tarBytes(f, s)))
		f.Add(zipBytes(f, s))
	}
	parent := f.TempDir()
	var n atomic.Int64
	lim := Limits{MaxTotalBytes: 1 << 20, MaxFileBytes: 1 << 20, MaxFiles: 200}
	f.Fuzz(func(t *testing.T, b []byte) {
		// One directory per input under a shared parent: t.TempDir per input costs more than the
		// extraction and stalls the fuzzing engine.
		dst := filepath.Join(parent, strconv.FormatInt(n.Add(1), 10))
		defer os.RemoveAll(dst)
		if _, err := ExtractReader(context.Background(), bytes.NewReader(b), int64(len(b)), dst, lim); err != nil {
			return
		}
		realDst, err := filepath.EvalSymlinks(dst)
		if err != nil {
			t.Fatal(err)
		}
		err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if d.Type()&fs.ModeSymlink == 0 && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o002) != 0 {
				t.Errorf("%s has mode %v", p, info.Mode())
			}
			if d.Type()&fs.ModeSymlink == 0 {
				return nil
			}
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling inside the root is allowed
			}
			if resolved != realDst && !strings.HasPrefix(resolved, realDst+string(filepath.Separator)) {
				t.Errorf("symlink %s resolves outside the root to %s", p, resolved)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk: %v", err)
		}
	})
}
