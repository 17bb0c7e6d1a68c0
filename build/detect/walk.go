package detect

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

// skipDirs are never searched for components.
var skipDirs = map[string]bool{
	"node_modules": true, "vendor": true, "testdata": true, "target": true, "build": true, "dist": true,
	"out": true, "bin": true, "obj": true, "__pycache__": true, "venv": true, "site-packages": true,
}

// Detect reports every component in the source directory root: the root itself when it has a
// marker or a rainflow.yaml, then subdirectories with their own markers and the modules of a Maven
// reactor, each with its path (a reactor's aggregator pom is listed too, with a problem saying to
// build one of its modules). A static site is only offered where no component encloses it (a
// web app's public/index.html is not a component of its own).
func Detect(root string, opts Options) (Report, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return Report{}, fmt.Errorf("validate detect options: %w", err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return Report{}, fmt.Errorf("open source: %w", err)
	}
	defer r.Close()
	t := &tree{root: r, fsys: r.FS(), maxFile: opts.MaxFileBytes}

	type item struct {
		path     string
		depth    int
		enclosed bool // some directory above is a component
	}
	var rep Report
	queue := []item{{path: "."}}
	reactor := map[string]string{} // module dir → reactor dir
	listed := 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if listed >= opts.MaxDirs {
			rep.Problems = append(rep.Problems, fmt.Sprintf("stopped after %d directories; %s and later were not searched", opts.MaxDirs, it.path))
			break
		}
		listed++
		d, err := t.list(it.path)
		if err != nil {
			if it.path == "." {
				return Report{}, err
			}
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		c, ok, err := component(d)
		if err != nil {
			return Report{}, fmt.Errorf("detect %s: %w", it.path, err)
		}
		if ok && c.Language == Static && it.enclosed {
			ok = false
		}
		if ok {
			if top, isModule := reactor[it.path]; isModule {
				c.ContextPath = top
				c.because("module of the Maven reactor in %s", top)
			}
			for _, m := range c.MavenModules {
				mp := path.Join(it.path, m)
				if mp != it.path && !strings.HasPrefix(mp, "..") {
					reactor[mp] = it.path
				}
			}
			rep.Components = append(rep.Components, c)
		}
		if it.depth >= opts.MaxDepth {
			continue
		}
		names := make([]string, 0, len(d.names))
		for n := range d.names {
			if d.hasDir(n) && !skipDirs[n] && !strings.HasPrefix(n, ".") {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			queue = append(queue, item{path: path.Join(it.path, n), depth: it.depth + 1, enclosed: it.enclosed || (ok && !c.aggregator)})
		}
	}
	slices.SortStableFunc(rep.Components, func(a, b Result) int {
		switch {
		case a.Path == b.Path:
			return 0
		case a.Path == ".":
			return -1
		case b.Path == ".":
			return 1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return rep, nil
}
