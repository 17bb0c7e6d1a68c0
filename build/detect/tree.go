package detect

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// tree reads the source directory through an os.Root, so no path or symlink leads outside it, and
// reads at most maxFile bytes of any file.
type tree struct {
	root    *os.Root
	fsys    fs.FS
	maxFile int64
}

// dir is one directory of the tree and its entries.
type dir struct {
	t     *tree
	path  string // slash path from the root, "." for the root
	names map[string]fs.DirEntry
}

func (t *tree) list(p string) (*dir, error) {
	ents, err := fs.ReadDir(t.fsys, p)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", p, err)
	}
	d := &dir{t: t, path: p, names: make(map[string]fs.DirEntry, len(ents))}
	for _, e := range ents {
		d.names[e.Name()] = e
	}
	return d, nil
}

// has tells whether the directory holds name (a file, or a symlink to one inside the root).
func (d *dir) has(name string) bool {
	e, ok := d.names[name]
	if !ok {
		return false
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return !e.IsDir()
	}
	st, err := fs.Stat(d.t.fsys, d.join(name)) // fails for a link leading outside the root
	return err == nil && st.Mode().IsRegular()
}

// hasDir tells whether the directory holds a real subdirectory name.
func (d *dir) hasDir(name string) bool {
	e, ok := d.names[name]
	return ok && e.IsDir()
}

// withSuffix returns the sorted names of files ending in suffix.
func (d *dir) withSuffix(suffix string) []string {
	var out []string
	for n := range d.names {
		if strings.HasSuffix(n, suffix) && d.has(n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (d *dir) join(name string) string { return path.Join(d.path, name) }

// read returns the file's content; a file larger than the limit is an error naming it.
func (d *dir) read(name string) ([]byte, error) {
	f, err := d.t.fsys.Open(d.join(name))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.join(name), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, d.t.maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.join(name), err)
	}
	if int64(len(b)) > d.t.maxFile {
		return nil, fmt.Errorf("read %s: larger than %d bytes", d.join(name), d.t.maxFile)
	}
	return b, nil
}

// readInto reads name, recording a problem on r when it cannot; ok is false then.
func (d *dir) readInto(r *Result, name string) ([]byte, bool) {
	if !d.has(name) {
		return nil, false
	}
	b, err := d.read(name)
	if err != nil {
		r.problem("%v", err)
		return nil, false
	}
	return b, true
}

// firstLine returns the first line of name that is neither empty nor a comment.
func (d *dir) firstLine(r *Result, name string) string {
	b, ok := d.readInto(r, name)
	if !ok {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}
