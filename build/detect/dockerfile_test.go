package detect

import (
	"slices"
	"strings"
	"testing"
)

func TestDetectDockerfile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		base     string
		ports    []string
		env      []EnvVar
		start    string
		problems []string
	}{
		{
			name:  "ARG in FROM and EXPOSE from ENV",
			src:   "ARG TAG=3.19\nARG P=7000\nFROM alpine:${TAG}\nENV PORT=8000\nEXPOSE $PORT ${P}\n",
			base:  "alpine:3.19",
			ports: []string{"8000/tcp", "7000/tcp"},
			env:   []EnvVar{{"PORT", "8000"}},
		},
		{
			name:  "legacy ENV, shell-form CMD, lowercase instructions, platform flag",
			src:   "from --platform=linux/amd64 node:20 as base\nenv GREETING hello world\nexpose 3000/TCP\ncmd node server.js\n",
			base:  "node:20",
			ports: []string{"3000/tcp"},
			env:   []EnvVar{{"GREETING", "hello world"}},
			start: "node server.js",
		},
		{
			name:  "later stage does not inherit an unrelated stage",
			src:   "FROM golang AS build\nEXPOSE 1\nENV A=1\nFROM scratch\nEXPOSE 2\n",
			base:  "scratch",
			ports: []string{"2/tcp"},
		},
		{
			name:     "unresolved variable in EXPOSE",
			src:      "FROM scratch\nEXPOSE $NOPE\n",
			base:     "scratch",
			problems: []string{`Dockerfile: EXPOSE $NOPE: port "$NOPE" is not a number`, "Dockerfile has no EXPOSE"},
		},
		{name: "no FROM", src: "# empty\n", problems: []string{"Dockerfile has no FROM"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Detect(writeTree(t, map[string]string{"Dockerfile": tc.src}), Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, ok := rep.Component(".")
			if !ok || c.Language != Dockerfile {
				t.Fatalf("root = %+v, want a Dockerfile component", c)
			}
			if c.BaseImage != tc.base || c.StartCommand != tc.start {
				t.Errorf("base = %q start = %q, want %q %q", c.BaseImage, c.StartCommand, tc.base, tc.start)
			}
			var ports []string
			for _, p := range c.Ports {
				ports = append(ports, p.String())
			}
			if !slices.Equal(ports, tc.ports) {
				t.Errorf("ports = %q, want %q", ports, tc.ports)
			}
			if !slices.Equal(c.Env, tc.env) {
				t.Errorf("env = %v, want %v", c.Env, tc.env)
			}
			for _, p := range tc.problems {
				if !slices.ContainsFunc(c.Problems, func(l string) bool { return strings.Contains(l, p) }) {
					t.Errorf("problems = %q, want one containing %q", c.Problems, p)
				}
			}
			if len(tc.problems) == 0 && len(c.Problems) > 0 {
				t.Errorf("problems = %q, want none", c.Problems)
			}
		})
	}
}

func TestSplitWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{name: "plain", in: "a  b\tc", want: []string{"a", "b", "c"}},
		{name: "quotes", in: `A="x y" B='$z' C=\"q`, want: []string{"A=x y", "B=$z", `C="q`}},
		{name: "empty quotes", in: `A=""`, want: []string{"A="}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := splitWords(tc.in); !slices.Equal(got, tc.want) {
				t.Fatalf("splitWords(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzParseDockerfile checks that no Dockerfile text panics the parser and that every port it
// reports is a valid one.
func FuzzParseDockerfile(f *testing.F) {
	f.Add("ARG T=1\nFROM a:${T} AS b\nENV A=1 B=\"2 3\"\nEXPOSE 80 53/udp\nFROM b\nCMD [\"x\"]\n")
	f.Add("FROM x\nRUN <<EOF\nEXPOSE 1\nEOF\nEXPOSE ${P:-8080}\n")
	f.Add("from a \\\n as b\nenv K V W\n")
	f.Fuzz(func(t *testing.T, src string) {
		var r Result
		parseDockerfile(src, &r)
		for _, p := range r.Ports {
			if p.Number < 1 || p.Number > 65535 || (p.Protocol != "tcp" && p.Protocol != "udp") {
				t.Fatalf("invalid port %+v from %q", p, src)
			}
		}
	})
}
