// Package generate writes the Dockerfile of a source that brings none, from what detection found
// (build/detect): a build stage on the language's builder image and a run stage on its runtime image,
// both configurable per language. Nothing the user wrote is pasted into the Dockerfile as it is: the
// start command and build arguments go in JSON exec form, env values are quoted and escaped, ports
// are validated numbers, versions are digits.
package generate

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rainflow/rainflow/build/detect"
)

// Images are one language's base images. Either may hold "{version}", replaced by the runtime version
// detection found (its leading major[.minor] digits), or DefaultVersion.
type Images struct {
	Build          string `json:"build,omitempty"` // compiles and installs dependencies; empty: the language has no build stage
	Run            string `json:"run"`             // the image the app runs on
	DefaultVersion string `json:"defaultVersion,omitempty"`
}

// Config is the base images per language.
type Config struct {
	Images map[detect.Language]Images
	// CacheScope, when set, names the BuildKit cache mounts of the build steps that have one (Go's
	// build cache): "<scope>/go-build". Give each component its own (its repository path), so that
	// builds of one component reuse what the previous ones compiled and never another's.
	CacheScope string
}

// WithBuildImage answers c with lang's builder image replaced by ref (c itself is left as it is).
func (c Config) WithBuildImage(lang detect.Language, ref string) Config {
	images := make(map[detect.Language]Images, len(c.Images))
	for l, im := range c.Images {
		images[l] = im
	}
	im := images[lang]
	im.Build = ref
	images[lang] = im
	c.Images = images
	return c
}

// DefaultConfig points every language at images under the platform registry's rainflow/base/.
// The static site and Go's runtime are the busybox base the local stack seeds; the others are
// expected to be mirrored there by the operator.
func DefaultConfig(registry string) Config {
	base := "rainflow/base/"
	if registry != "" {
		base = strings.TrimSuffix(registry, "/") + "/" + base
	}
	return Config{Images: map[detect.Language]Images{
		detect.Node:   {Build: base + "node:{version}", Run: base + "node:{version}", DefaultVersion: "22"},
		detect.Python: {Build: base + "python:{version}", Run: base + "python:{version}", DefaultVersion: "3.12"},
		detect.Java:   {Build: base + "java-build:{version}", Run: base + "java:{version}", DefaultVersion: "21"},
		detect.PHP:    {Build: base + "php:{version}", Run: base + "php:{version}", DefaultVersion: "8.3"},
		detect.Ruby:   {Build: base + "ruby:{version}", Run: base + "ruby:{version}", DefaultVersion: "3.3"},
		detect.DotNet: {Build: base + "dotnet-sdk:{version}", Run: base + "dotnet-aspnet:{version}", DefaultVersion: "8.0"},
		detect.Go:     {Build: base + "go:{version}", Run: base + "busybox:1", DefaultVersion: "1.24"},
		detect.Static: {Run: base + "busybox:1"},
	}}
}

// imageRef is what a configured image may look like: a reference without spaces or quotes.
var imageRef = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._:/@{}-]*$`)

// Validate checks every configured image is a plain reference.
func (c Config) Validate() error {
	langs := make([]string, 0, len(c.Images))
	for l := range c.Images {
		langs = append(langs, string(l))
	}
	sort.Strings(langs)
	for _, l := range langs {
		im := c.Images[detect.Language(l)]
		if im.Run == "" {
			return fmt.Errorf("%s has no runtime image", l)
		}
		for _, ref := range []string{im.Build, im.Run} {
			if ref != "" && !imageRef.MatchString(ref) {
				return fmt.Errorf("%s image %q is not an image reference", l, ref)
			}
		}
		if im.DefaultVersion != "" && !versionRe.MatchString(im.DefaultVersion) {
			return fmt.Errorf("%s default version %q is not a version", l, im.DefaultVersion)
		}
	}
	if c.CacheScope != "" && !cacheScope.MatchString(c.CacheScope) {
		return fmt.Errorf("cache scope %q is not a repository path", c.CacheScope)
	}
	return nil
}

// cacheScope is what a cache scope may look like: a repository path.
var cacheScope = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*$`)

var versionRe = regexp.MustCompile(`^\d+(\.\d+)?`)

// images answers the language's images with the version put in.
func (c Config) images(r detect.Result) (build, run string, err error) {
	im, ok := c.Images[r.Language]
	if !ok {
		return "", "", fmt.Errorf("no base images are configured for %s", orNone(string(r.Language)))
	}
	version := versionRe.FindString(strings.TrimLeft(r.Version, "^~>=<v "))
	if version == "" {
		version = im.DefaultVersion
	}
	put := func(ref string) (string, error) {
		if !strings.Contains(ref, "{version}") {
			return ref, nil
		}
		if version == "" {
			return "", fmt.Errorf("%s image %q needs a version and none was found or configured", r.Language, ref)
		}
		return strings.ReplaceAll(ref, "{version}", version), nil
	}
	if build, err = put(im.Build); err != nil {
		return "", "", err
	}
	run, err = put(im.Run)
	return build, run, err
}

func orNone(s string) string {
	if s == "" {
		return "a source of no detected language"
	}
	return s
}

// Dockerfile is the generated Dockerfile of r.
func (c Config) Dockerfile(r detect.Result) ([]byte, error) {
	build, run, err := c.images(r)
	if err != nil {
		return nil, err
	}
	ports, err := tcpPorts(r.Ports)
	if err != nil {
		return nil, err
	}
	if c.CacheScope != "" && !cacheScope.MatchString(c.CacheScope) {
		return nil, fmt.Errorf("cache scope %q is not a repository path", c.CacheScope)
	}
	rc, ok := recipes[r.Language]
	if !ok {
		return nil, fmt.Errorf("no Dockerfile can be generated for %s", orNone(string(r.Language)))
	}
	if rc.needsBuild && build == "" {
		return nil, fmt.Errorf("%s has no builder image configured", r.Language)
	}
	w := &writer{}
	w.line("# generated by rainflow from the detected %s source", r.Language)
	start, err := rc.write(w, r, stage{build: build, run: run, ports: ports, cacheScope: c.CacheScope})
	if err != nil {
		return nil, err
	}
	if err := writeEnv(w, r.Env, ports); err != nil {
		return nil, err
	}
	for _, p := range ports {
		w.line("EXPOSE %d", p)
	}
	if len(start) == 0 {
		return nil, fmt.Errorf("no start command for the %s source: set one in a Procfile or rainflow.yaml", r.Language)
	}
	w.line("CMD %s", execForm(start))
	return w.bytes(), nil
}

// stage is what a recipe writes with.
type stage struct {
	build, run string
	ports      []int
	cacheScope string // Config.CacheScope
}

// tcpPorts are r's TCP ports, each a valid port number.
func tcpPorts(ports []detect.Port) ([]int, error) {
	var out []int
	for _, p := range ports {
		if p.Protocol != "" && p.Protocol != "tcp" && p.Protocol != "udp" {
			return nil, fmt.Errorf("port %d has protocol %q", p.Number, p.Protocol)
		}
		if p.Number < 1 || p.Number > 65535 {
			return nil, fmt.Errorf("port %d is not between 1 and 65535", p.Number)
		}
		if p.Protocol != "udp" {
			out = append(out, p.Number)
		}
	}
	return out, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// writeEnv writes PORT (the first port, unless declared) and the declared env, each value quoted.
func writeEnv(w *writer, env []detect.EnvVar, ports []int) error {
	hasPort := false
	for _, e := range env {
		if !envName.MatchString(e.Name) {
			return fmt.Errorf("env name %q is not a valid variable name", e.Name)
		}
		hasPort = hasPort || e.Name == "PORT"
	}
	if !hasPort && len(ports) > 0 {
		w.line("ENV PORT=%d", ports[0])
	}
	for _, e := range env {
		q, err := quoteEnv(e.Value)
		if err != nil {
			return fmt.Errorf("env %s: %w", e.Name, err)
		}
		w.line("ENV %s=%s", e.Name, q)
	}
	return nil
}

// quoteEnv quotes an ENV value so the Dockerfile reads it back as it is: no variable expansion, no
// escapes, no line break.
func quoteEnv(v string) (string, error) {
	for _, r := range v {
		if r == '\n' || r == '\r' || r == 0 {
			return "", errors.New("a value cannot hold a line break or NUL")
		}
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch r {
		case '"', '\\', '$':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String(), nil
}
