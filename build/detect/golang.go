package detect

import (
	"go/build/constraint"
	"go/parser"
	"go/token"
	"path"
	"slices"
	"strings"
)

// goSkipDirs are never searched for main packages.
var goSkipDirs = map[string]bool{"vendor": true, "testdata": true, "node_modules": true}

// detectGo reads go.mod and finds the module's main packages.
func detectGo(d *dir, r *Result) {
	b, ok := d.readInto(r, "go.mod")
	if !ok {
		return
	}
	var module string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "module":
			module = strings.Trim(f[1], `"`)
		case len(f) >= 2 && f[0] == "go":
			r.Version = f[1]
			r.because("go.mod says go %s", f[1])
		case len(f) >= 2 && f[0] == "toolchain":
			r.because("go.mod asks for toolchain %s", f[1])
		}
	}
	if r.Version == "" {
		r.problem("go.mod has no go line")
	}
	r.BuildTool = "go"
	r.MainPackages = goMains(d.t, d.path, ".", 0)
	switch {
	case len(r.MainPackages) == 0:
		r.problem("no main package in the module; set main in rainflow.yaml")
	case slices.Contains(r.MainPackages, "."):
		r.MainPackage = "."
	case len(r.MainPackages) == 1:
		r.MainPackage = r.MainPackages[0]
	default:
		want := "./cmd/" + path.Base(module)
		if slices.Contains(r.MainPackages, want) {
			r.MainPackage = want
		} else {
			r.MainPackage = r.MainPackages[0]
			r.problem("several main packages %v; chose %s; set main in rainflow.yaml to pick another", r.MainPackages, r.MainPackage)
		}
	}
	if r.MainPackage != "" {
		r.because("main package %s", r.MainPackage)
	}
}

// goMains lists the main packages below modDir/rel, as "./x/y" paths relative to modDir, not
// entering nested modules, vendor, testdata or hidden directories.
func goMains(t *tree, modDir, rel string, depth int) []string {
	if depth > 6 {
		return nil
	}
	d, err := t.list(path.Join(modDir, rel))
	if err != nil {
		return nil
	}
	var out []string
	names := make([]string, 0, len(d.names))
	for n := range d.names {
		names = append(names, n)
	}
	slices.Sort(names)
	isMain := false
	for _, n := range names {
		if !isMain && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") && d.has(n) {
			isMain = goFileIsMain(d, n)
		}
	}
	if isMain {
		if rel == "." {
			out = append(out, ".")
		} else {
			out = append(out, "./"+rel)
		}
	}
	for _, n := range names {
		if !d.hasDir(n) || goSkipDirs[n] || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue
		}
		sub := path.Join(rel, n)
		if sd, err := t.list(path.Join(modDir, sub)); err == nil && sd.has("go.mod") {
			continue // a nested module is a component of its own
		}
		out = append(out, goMains(t, modDir, sub, depth+1)...)
	}
	return out
}

// goFileIsMain tells whether the file declares package main and is built for linux/amd64.
func goFileIsMain(d *dir, name string) bool {
	src, err := d.read(name)
	if err != nil {
		return false
	}
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil || f.Name.Name != "main" {
		return false
	}
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			expr, err := constraint.Parse(c.Text)
			if err != nil {
				continue
			}
			ok := expr.Eval(func(tag string) bool {
				return tag == "linux" || tag == "unix" || tag == "amd64" || tag == "gc" || strings.HasPrefix(tag, "go1.")
			})
			if !ok {
				return false
			}
		}
	}
	return true
}
