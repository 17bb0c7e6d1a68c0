package source

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ent is one archive entry a test writes.
type ent struct {
	name   string
	body   string
	mode   int64
	typ    byte   // tar type flag; 0 means regular file
	link   string // symlink or hard link target
	size   int64  // header size when it should differ from len(body) (tar only)
	isDir  bool
	isLink bool
}

func file(name, body string) ent      { return ent{name: name, body: body, mode: 0o644} }
func dir(name string) ent             { return ent{name: name, isDir: true, mode: 0o755} }
func symlink(name, target string) ent { return ent{name: name, link: target, isLink: true} }
func withMode(e ent, mode int64) ent  { e.mode = mode; return e }
func tarOnly(e ent, typ byte) ent     { e.typ = typ; return e }

func tarBytes(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		hdr := &tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		switch {
		case e.typ != 0:
			hdr.Typeflag, hdr.Linkname, hdr.Size = e.typ, e.link, 0
		case e.isDir:
			hdr.Typeflag, hdr.Size = tar.TypeDir, 0
		case e.isLink:
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, e.link, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write tar header %q: %v", e.name, err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatalf("write tar body %q: %v", e.name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipBytes(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range ents {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := fs.FileMode(e.mode)
		body := e.body
		switch {
		case e.isDir:
			mode |= fs.ModeDir
		case e.isLink:
			mode, body = fs.ModeSymlink|0o777, e.link
		}
		fh.SetMode(mode)
		w, err := zw.CreateHeader(fh)
		if err != nil {
			t.Fatalf("create zip entry %q: %v", e.name, err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	t.Parallel()
	good := []ent{
		dir("app/"),
		file("app/main.go", "package main\n"),
		withMode(file("app/run.sh", "#!/bin/sh\n"), 0o4777),
		file("deep/a/b/c.txt", "c"), // parents not listed
		symlink("app/link", "main.go"),
		symlink("deep/a/up", "../../app"),
		file("./dot.txt", "dot"),
	}
	tests := []struct {
		name    string
		archive func(t testing.TB) []byte
		lim     Limits
		format  Format
		files   map[string]string // path → content that must be there
		modes   map[string]fs.FileMode
		links   map[string]string
		wantErr string // substring of the error; empty means success
		limit   bool   // the error wraps ErrLimit
	}{
		{
			name:    "tar",
			archive: func(t testing.TB) []byte { return tarBytes(t, good) },
			format:  FormatTar,
			files:   map[string]string{"app/main.go": "package main\n", "deep/a/b/c.txt": "c", "dot.txt": "dot", "deep/a/up/main.go": "package main\n"},
			modes:   map[string]fs.FileMode{"app/run.sh": 0o755, "app/main.go": 0o644},
			links:   map[string]string{"app/link": "main.go", "deep/a/up": "../../app"},
		},
		{
			name:    "tar.gz",
			archive: func(t testing.TB) []byte { return gzBytes(t, tarBytes(t, good)) },
			format:  FormatTarGz,
			files:   map[string]string{"app/main.go": "package main\n", "deep/a/b/c.txt": "c"},
			modes:   map[string]fs.FileMode{"app/run.sh": 0o755},
		},
		{
			name:    "zip",
			archive: func(t testing.TB) []byte { return zipBytes(t, good) },
			format:  FormatZip,
			files:   map[string]string{"app/main.go": "package main\n", "deep/a/b/c.txt": "c", "app/link": "package main\n"},
			modes:   map[string]fs.FileMode{"app/run.sh": 0o755, "app/main.go": 0o644},
			links:   map[string]string{"app/link": "main.go"},
		},
		{name: "dotdot", archive: tarOf(file("a/../../evil", "x")), wantErr: `entry "a/../../evil": path escapes the root`},
		{name: "dotdot that stays inside is still refused", archive: tarOf(file("a/../b", "x")), wantErr: `entry "a/../b": path escapes the root`},
		{name: "absolute", archive: tarOf(file("/etc/passwd", "x")), wantErr: `entry "/etc/passwd": absolute path`},
		{name: "zip dotdot", archive: zipOf(file("../evil", "x")), wantErr: `entry "../evil": path escapes the root`},
		{name: "zip backslash", archive: zipOf(file(`..\evil`, "x")), wantErr: `name contains a backslash`},
		{name: "symlink absolute", archive: tarOf(symlink("l", "/etc")), wantErr: `entry "l": symlink target "/etc" is absolute`},
		{name: "symlink escapes", archive: tarOf(symlink("a/l", "../../x")), wantErr: `entry "a/l": symlink target "../../x" points outside the root`},
		{name: "symlink dotdot after name", archive: tarOf(symlink("self", "."), symlink("l", "self/..")), wantErr: `entry "l": symlink target "self/.." has .. after a name`},
		{name: "zip symlink escapes", archive: zipOf(symlink("l", "../x")), wantErr: `entry "l": symlink target "../x" points outside the root`},
		{name: "write through symlink", archive: tarOf(symlink("l", "."), file("l/x", "x")), wantErr: `entry "l/x": parent "l" is a symlink`},
		{name: "hard link", archive: tarOf(file("a", "x"), ent{name: "b", typ: tar.TypeLink, link: "a"}), wantErr: `entry "b": hard links are not allowed`},
		{name: "device", archive: tarOf(tarOnly(ent{name: "dev"}, tar.TypeChar)), wantErr: `entry "dev": unsupported entry type`},
		{name: "fifo", archive: tarOf(tarOnly(ent{name: "p"}, tar.TypeFifo)), wantErr: `entry "p": unsupported entry type`},
		{name: "duplicate file", archive: tarOf(file("a", "1"), file("a", "2")), wantErr: `entry "a": duplicate entry`},
		{name: "file over symlink", archive: tarOf(symlink("a", "b"), file("a", "2")), wantErr: `entry "a": duplicate entry`},
		{name: "file below a file", archive: tarOf(file("a", "1"), file("a/b", "2")), wantErr: `entry "a/b": parent "a" is a file`},
		{name: "file too big", archive: tarOf(file("big", "0123456789")), lim: Limits{MaxFileBytes: 5}, wantErr: `entry "big": file is larger than 5 bytes`, limit: true},
		{name: "zip file too big", archive: zipOf(file("big", "0123456789")), lim: Limits{MaxFileBytes: 5}, wantErr: `entry "big": file is larger than 5 bytes`, limit: true},
		{name: "total too big", archive: tarOf(file("a", "0123"), file("b", "0123")), lim: Limits{MaxFileBytes: 5, MaxTotalBytes: 6}, wantErr: `more than 6 bytes in total at "b"`, limit: true},
		{name: "too many files", archive: tarOf(file("a", ""), file("b", ""), file("c", "")), lim: Limits{MaxFiles: 2}, wantErr: `more than 2 entries at "c"`, limit: true},
		{name: "zip too many files", archive: zipOf(file("a", ""), file("b", ""), file("c", "")), lim: Limits{MaxFiles: 2}, wantErr: `3 entries, more than 2`, limit: true},
		{name: "name too long", archive: tarOf(file(strings.Repeat("a", 30), "")), lim: Limits{MaxPathLen: 20}, wantErr: `name is longer than 20 bytes`, limit: true},
		{name: "not an archive", archive: func(testing.TB) []byte { return []byte("hello, this is not a tar file at all") }, wantErr: `read tar`},
		{name: "truncated gzip", archive: func(t testing.TB) []byte { return gzBytes(t, tarBytes(t, good))[:40] }, wantErr: `extract tar.gz`},
		{name: "bad limits", archive: tarOf(file("a", "")), lim: Limits{MaxFiles: -1}, wantErr: `max files -1 is negative`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := tc.archive(t)
			dst := filepath.Join(t.TempDir(), "src")
			res, err := ExtractReader(context.Background(), bytes.NewReader(b), int64(len(b)), dst, tc.lim)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if tc.limit != errors.Is(err, ErrLimit) {
					t.Errorf("errors.Is(err, ErrLimit) = %v, want %v", !tc.limit, tc.limit)
				}
				if _, serr := os.Lstat(dst); !errors.Is(serr, fs.ErrNotExist) {
					t.Errorf("destination left behind after a failed extraction: %v", serr)
				}
				return
			}
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			if res.Format != tc.format {
				t.Errorf("format = %q, want %q", res.Format, tc.format)
			}
			if res.Files == 0 || res.Bytes == 0 {
				t.Errorf("result = %+v, want files and bytes counted", res)
			}
			for p, want := range tc.files {
				got, err := os.ReadFile(filepath.Join(dst, p))
				if err != nil || string(got) != want {
					t.Errorf("%s = %q, %v; want %q", p, got, err, want)
				}
			}
			for p, want := range tc.modes {
				st, err := os.Lstat(filepath.Join(dst, p))
				if err != nil || st.Mode() != want {
					t.Errorf("mode of %s = %v, %v; want %v", p, st.Mode(), err, want)
				}
			}
			for p, want := range tc.links {
				got, err := os.Readlink(filepath.Join(dst, p))
				if err != nil || got != want {
					t.Errorf("link %s = %q, %v; want %q", p, got, err, want)
				}
			}
		})
	}
}

func tarOf(ents ...ent) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return tarBytes(t, ents) }
}

func zipOf(ents ...ent) func(testing.TB) []byte {
	return func(t testing.TB) []byte { return zipBytes(t, ents) }
}

func TestExtractRefusesExistingDestination(t *testing.T) {
	t.Parallel()
	dst := t.TempDir()
	b := tarBytes(t, []ent{file("a", "x")})
	_, err := ExtractReader(context.Background(), bytes.NewReader(b), int64(len(b)), dst, Limits{})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("error = %v, want fs.ErrExist", err)
	}
	if _, err := os.Stat(dst); err != nil {
		t.Fatalf("existing destination was removed: %v", err)
	}
}

func TestExtractFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	archive := filepath.Join(dir, "upload.zip")
	if err := os.WriteFile(archive, zipBytes(t, []ent{file("index.html", "<h1>hi</h1>")}), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Extract(context.Background(), archive, filepath.Join(dir, "src"), Limits{})
	if err != nil {
		t.Fatalf("extract: %v", err)
	}
	if res.Format != FormatZip || res.Files != 1 || res.Bytes != int64(len("<h1>hi</h1>")) {
		t.Errorf("result = %+v", res)
	}
}

func TestExtractCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := tarBytes(t, []ent{file("a", "x")})
	_, err := ExtractReader(ctx, bytes.NewReader(b), int64(len(b)), filepath.Join(t.TempDir(), "src"), Limits{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
}
