package source

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Result says what an extraction wrote.
type Result struct {
	Format Format
	Files  int   // entries written, of any kind
	Bytes  int64 // bytes written into regular files
}

// Extract extracts the archive file at archive into dst, which must not exist yet; Extract creates
// it. On any error dst is removed again, so a caller never sees a partial tree.
func Extract(ctx context.Context, archive, dst string, lim Limits) (Result, error) {
	f, err := os.Open(archive)
	if err != nil {
		return Result{}, fmt.Errorf("open archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Result{}, fmt.Errorf("stat archive: %w", err)
	}
	return ExtractReader(ctx, f, st.Size(), dst, lim)
}

// ExtractReader is Extract for an archive held in r (size bytes long).
func ExtractReader(ctx context.Context, r io.ReaderAt, size int64, dst string, lim Limits) (Result, error) {
	lim = lim.WithDefaults()
	if err := lim.Validate(); err != nil {
		return Result{}, fmt.Errorf("validate limits: %w", err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return Result{}, fmt.Errorf("create destination: %w", err)
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		_ = os.RemoveAll(dst)
		return Result{}, fmt.Errorf("open destination: %w", err)
	}
	w := &writer{root: root, lim: lim, seen: map[string]entryKind{}}
	res := Result{Format: sniff(r)}
	switch res.Format {
	case FormatZip:
		err = w.zip(ctx, r, size)
	case FormatTarGz:
		err = w.tarGz(ctx, io.NewSectionReader(r, 0, size))
	default:
		err = w.tar(ctx, io.NewSectionReader(r, 0, size))
	}
	res.Files, res.Bytes = w.files, w.bytes
	if cerr := root.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close destination: %w", cerr)
	}
	if err != nil {
		_ = os.RemoveAll(dst)
		return Result{Format: res.Format}, fmt.Errorf("extract %s: %w", res.Format, err)
	}
	return res, nil
}

// writer creates checked entries beneath root and keeps the running totals.
type writer struct {
	root  *os.Root
	lim   Limits
	seen  map[string]entryKind
	files int
	bytes int64
}

func (w *writer) tarGz(ctx context.Context, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("read gzip: %w", err)
	}
	defer zr.Close()
	return w.tar(ctx, zr)
}

func (w *writer) tar(ctx context.Context, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			err = w.file(hdr.Name, fs.FileMode(hdr.Mode), hdr.Size, tr)
		case tar.TypeDir:
			err = w.dir(hdr.Name)
		case tar.TypeSymlink:
			err = w.symlink(hdr.Name, hdr.Linkname)
		case tar.TypeLink:
			err = &EntryError{Name: hdr.Name, Reason: "hard links are not allowed"}
		case tar.TypeXGlobalHeader:
			continue
		default:
			err = &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("unsupported entry type %q", hdr.Typeflag)}
		}
		if err != nil {
			return err
		}
	}
}

func (w *writer) zip(ctx context.Context, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("read zip: %w", err)
	}
	if len(zr.File) > w.lim.MaxFiles {
		return fmt.Errorf("%d entries, more than %d: %w", len(zr.File), w.lim.MaxFiles, ErrLimit)
	}
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.zipEntry(f); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) zipEntry(f *zip.File) error {
	mode := f.Mode()
	switch {
	case mode.IsDir():
		return w.dir(f.Name)
	case mode&fs.ModeSymlink != 0:
		if f.UncompressedSize64 > 4096 {
			return &EntryError{Name: f.Name, Reason: "symlink target is longer than 4096 bytes"}
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("open entry %q: %w", f.Name, err)
		}
		target, err := io.ReadAll(io.LimitReader(rc, 4097))
		rc.Close()
		if err != nil {
			return fmt.Errorf("read entry %q: %w", f.Name, err)
		}
		return w.symlink(f.Name, string(target))
	case mode.IsRegular():
		size := int64(f.UncompressedSize64)
		if f.UncompressedSize64 > uint64(w.lim.MaxFileBytes) {
			size = w.lim.MaxFileBytes + 1 // refused by file before it opens anything
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("open entry %q: %w", f.Name, err)
		}
		defer rc.Close()
		return w.file(f.Name, mode, size, rc)
	default:
		return &EntryError{Name: f.Name, Reason: fmt.Sprintf("unsupported file mode %v", mode)}
	}
}

// admit checks an entry's name, the entry count, and that nothing above it is a symlink or a file.
// It returns the clean name ("" for the root itself).
func (w *writer) admit(name string, kind entryKind) (string, error) {
	clean, err := cleanName(name, w.lim.MaxPathLen)
	if err != nil || clean == "" {
		return clean, err
	}
	if w.files >= w.lim.MaxFiles {
		return "", fmt.Errorf("more than %d entries at %q: %w", w.lim.MaxFiles, name, ErrLimit)
	}
	for dir := path.Dir(clean); dir != "."; dir = path.Dir(dir) {
		switch w.seen[dir] {
		case kindSymlink:
			return "", &EntryError{Name: name, Reason: fmt.Sprintf("parent %q is a symlink", dir)}
		case kindFile:
			return "", &EntryError{Name: name, Reason: fmt.Sprintf("parent %q is a file", dir)}
		}
	}
	if prev, ok := w.seen[clean]; ok && (prev != kindDir || kind != kindDir) {
		return "", &EntryError{Name: name, Reason: "duplicate entry"}
	}
	return clean, nil
}

func (w *writer) dir(name string) error {
	clean, err := w.admit(name, kindDir)
	if err != nil || clean == "" {
		return err
	}
	if err := w.root.MkdirAll(clean, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", name, err)
	}
	w.markParents(clean)
	w.seen[clean] = kindDir
	w.files++
	return nil
}

func (w *writer) file(name string, mode fs.FileMode, size int64, r io.Reader) error {
	clean, err := w.admit(name, kindFile)
	if err != nil {
		return err
	}
	if clean == "" {
		return &EntryError{Name: name, Reason: "a file cannot be the root"}
	}
	if size > w.lim.MaxFileBytes {
		return &EntryError{Name: name, Reason: fmt.Sprintf("file is larger than %d bytes", w.lim.MaxFileBytes), Err: ErrLimit}
	}
	if err := w.parents(clean); err != nil {
		return err
	}
	f, err := w.root.OpenFile(clean, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode(mode))
	if err != nil {
		return fmt.Errorf("create file %q: %w", name, err)
	}
	w.seen[clean] = kindFile
	w.files++
	allowed := min(w.lim.MaxFileBytes, w.lim.MaxTotalBytes-w.bytes)
	n, err := io.Copy(f, io.LimitReader(r, allowed+1))
	w.bytes += n
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write file %q: %w", name, err)
	}
	if n > allowed {
		if n > w.lim.MaxFileBytes {
			return &EntryError{Name: name, Reason: fmt.Sprintf("file is larger than %d bytes", w.lim.MaxFileBytes), Err: ErrLimit}
		}
		return fmt.Errorf("more than %d bytes in total at %q: %w", w.lim.MaxTotalBytes, name, ErrLimit)
	}
	return nil
}

func (w *writer) symlink(name, target string) error {
	clean, err := w.admit(name, kindSymlink)
	if err != nil {
		return err
	}
	if clean == "" {
		return &EntryError{Name: name, Reason: "a symlink cannot be the root"}
	}
	if err := checkLinkTarget(clean, target); err != nil {
		return err
	}
	if err := w.parents(clean); err != nil {
		return err
	}
	if err := w.root.Symlink(target, clean); err != nil {
		return fmt.Errorf("create symlink %q: %w", name, err)
	}
	w.seen[clean] = kindSymlink
	w.files++
	return nil
}

// parents creates the directories above clean that no entry has created yet.
func (w *writer) parents(clean string) error {
	dir := path.Dir(clean)
	if dir == "." || w.seen[dir] == kindDir {
		return nil
	}
	if err := w.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", dir, err)
	}
	w.markParents(clean)
	return nil
}

// markParents records every directory above clean as a directory.
func (w *writer) markParents(clean string) {
	for dir := path.Dir(clean); dir != "." && !strings.HasPrefix(dir, "/"); dir = path.Dir(dir) {
		if _, ok := w.seen[dir]; ok {
			return
		}
		w.seen[dir] = kindDir
	}
}
