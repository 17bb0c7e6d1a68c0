package detect

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeTree creates files (path → content) under a new directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, body := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDetectDoesNotFollowSymlinksOut(t *testing.T) {
	t.Parallel()
	outside := writeTree(t, map[string]string{
		"package.json":     `{"scripts": {"start": "node secret.js"}}`,
		"svc/go.mod":       "module x\n\ngo 1.22\n",
		"svc/main.go":      "package main\n\nfunc main() {}\n",
		"Dockerfile":       "FROM scratch\nEXPOSE 1\n",
		"rainflow.yaml":    "start: leaked\n",
		"requirements.txt": "flask\n",
	})
	root := writeTree(t, map[string]string{"index.html": "<h1>site</h1>", "inside.txt": "x"})
	for _, name := range []string{"package.json", "Dockerfile", "rainflow.yaml", "requirements.txt"} {
		if err := os.Symlink(filepath.Join(outside, name), filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "svc"), filepath.Join(root, "svc")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("inside.txt", filepath.Join(root, "Procfile")); err != nil { // inside: fine
		t.Fatal(err)
	}
	rep, err := Detect(root, Options{})
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	if len(rep.Components) != 1 {
		t.Fatalf("components = %+v, want only the static root", rep.Components)
	}
	c := rep.Components[0]
	if c.Language != Static || strings.Contains(c.StartCommand, "secret") || strings.Contains(c.StartCommand, "leaked") {
		t.Fatalf("root = %+v, want a static site that read nothing outside", c)
	}
}

func TestDetectLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		files       map[string]string
		opts        Options
		paths       []string
		problem     string // in the root component
		walkProblem string // in the report
		wantErr     string
	}{
		{
			name:    "file over the size limit is a problem, not a read",
			files:   map[string]string{"package.json": `{"name": "` + strings.Repeat("x", 200) + `"}`},
			opts:    Options{MaxFileBytes: 100},
			paths:   []string{"."},
			problem: "read package.json: larger than 100 bytes",
		},
		{
			name:  "components below the depth limit are not searched",
			files: map[string]string{"a/go.mod": "module a\n", "a/b/c/go.mod": "module c\n"},
			opts:  Options{MaxDepth: 2},
			paths: []string{"a"},
		},
		{
			name:        "directory budget",
			files:       map[string]string{"a/x.txt": "", "b/x.txt": "", "c/go.mod": "module c\n"},
			opts:        Options{MaxDirs: 3},
			paths:       []string{},
			walkProblem: "stopped after 3 directories; c and later were not searched",
		},
		{
			name:    "negative options",
			opts:    Options{MaxDepth: -1},
			wantErr: "max depth -1 is negative",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Detect(writeTree(t, tc.files), tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("detect: %v", err)
			}
			got := []string{}
			for _, c := range rep.Components {
				got = append(got, c.Path)
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("paths = %q, want %q", got, tc.paths)
			}
			if tc.problem != "" {
				c, _ := rep.Component(".")
				if !slices.ContainsFunc(c.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
					t.Errorf("root problems = %q, want %q", c.Problems, tc.problem)
				}
			}
			if tc.walkProblem != "" && !slices.Contains(rep.Problems, tc.walkProblem) {
				t.Errorf("report problems = %q, want %q", rep.Problems, tc.walkProblem)
			}
		})
	}
}

func TestDetectMissingRoot(t *testing.T) {
	t.Parallel()
	if _, err := Detect(filepath.Join(t.TempDir(), "nope"), Options{}); err == nil || !strings.Contains(err.Error(), "open source") {
		t.Fatalf("error = %v, want open source failure", err)
	}
}
