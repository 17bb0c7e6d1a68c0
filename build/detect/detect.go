// Package detect works out what a source directory is and what it declares: its language and
// runtime version, ports, environment, start command and which builder should build it. It only
// reads files (never executes anything), reads each file up to a size limit, walks a bounded depth,
// and never follows a symlink out of the source directory.
package detect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Language is what a component is written in, or Dockerfile when it brings its own build.
type Language string

// Languages, in the words the API and rainflow.yaml use.
const (
	Dockerfile Language = "dockerfile"
	Go         Language = "go"
	Node       Language = "nodejs"
	Python     Language = "python"
	Java       Language = "java"
	PHP        Language = "php"
	Ruby       Language = "ruby"
	DotNet     Language = "dotnet"
	Static     Language = "static"
)

// Builder is how a component is turned into an image.
type Builder string

// Builders.
const (
	BuilderDockerfile Builder = "dockerfile" // the repository's Dockerfile on BuildKit
	BuilderKo         Builder = "ko"         // Go without a daemon (build/kobuild)
	BuilderGenerated  Builder = "generated"  // a Dockerfile generated from this result, on BuildKit
)

// Port is a port the component listens on.
type Port struct {
	Number   int    `json:"port"`
	Protocol string `json:"protocol"` // tcp or udp
}

func (p Port) String() string { return strconv.Itoa(p.Number) + "/" + p.Protocol }

// EnvVar is one environment variable the component declares.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Result is what one directory of the source is.
type Result struct {
	Path         string   `json:"path"`                  // directory, relative to the source root ("." for the root)
	ContextPath  string   `json:"contextPath,omitempty"` // build context when it is not Path (a Maven module builds from its reactor)
	Language     Language `json:"language,omitempty"`
	Version      string   `json:"version,omitempty"` // runtime version, as declared
	Builder      Builder  `json:"builder,omitempty"`
	Ports        []Port   `json:"ports,omitempty"`
	Env          []EnvVar `json:"env,omitempty"`
	StartCommand string   `json:"startCommand,omitempty"`
	BaseImage    string   `json:"baseImage,omitempty"`    // Dockerfile: the image the final stage starts from
	MainPackage  string   `json:"mainPackage,omitempty"`  // Go: the package to build
	MainPackages []string `json:"mainPackages,omitempty"` // Go: every main package found
	Framework    string   `json:"framework,omitempty"`
	BuildTool    string   `json:"buildTool,omitempty"`    // npm, maven, poetry, ...
	MavenModules []string `json:"mavenModules,omitempty"` // Maven: the modules pom.xml aggregates
	Evidence     []string `json:"evidence,omitempty"`     // why: "go.mod says go 1.22"
	Problems     []string `json:"problems,omitempty"`     // what could not be read or decided

	aggregator bool // a Maven pom with packaging pom: builds its modules, is not deployed itself
}

func (r *Result) because(format string, args ...any) {
	r.Evidence = append(r.Evidence, fmt.Sprintf(format, args...))
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// setEnv sets name to value, replacing an earlier value in place.
func (r *Result) setEnv(name, value string) {
	for i := range r.Env {
		if r.Env[i].Name == name {
			r.Env[i].Value = value
			return
		}
	}
	r.Env = append(r.Env, EnvVar{Name: name, Value: value})
}

// addPort adds p unless it is already there.
func (r *Result) addPort(p Port) {
	for _, q := range r.Ports {
		if q == p {
			return
		}
	}
	r.Ports = append(r.Ports, p)
}

// Report is every component found in a source tree.
type Report struct {
	// Components are the candidates, the root first when it is one, then by path.
	Components []Result `json:"components"`
	// Problems are about the walk itself (limits reached).
	Problems []string `json:"problems,omitempty"`
}

// Component returns the component at path.
func (r Report) Component(path string) (Result, bool) {
	for _, c := range r.Components {
		if c.Path == path {
			return c, true
		}
	}
	return Result{}, false
}

// Defaults for Options.
const (
	DefaultMaxFileBytes = 1 << 20 // 1 MiB read from any one file
	DefaultMaxDepth     = 4       // directories below the root searched for components
	DefaultMaxDirs      = 5_000   // directories listed over the whole walk
)

// Options bounds a detection. Zero fields take the defaults.
type Options struct {
	MaxFileBytes int64
	MaxDepth     int
	MaxDirs      int
}

// WithDefaults returns o with zero fields defaulted.
func (o Options) WithDefaults() Options {
	if o.MaxFileBytes == 0 {
		o.MaxFileBytes = DefaultMaxFileBytes
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxDirs == 0 {
		o.MaxDirs = DefaultMaxDirs
	}
	return o
}

// Validate reports options that cannot work.
func (o Options) Validate() error {
	var errs []error
	if o.MaxFileBytes < 0 {
		errs = append(errs, fmt.Errorf("max file bytes %d is negative", o.MaxFileBytes))
	}
	if o.MaxDepth < 0 {
		errs = append(errs, fmt.Errorf("max depth %d is negative", o.MaxDepth))
	}
	if o.MaxDirs < 0 {
		errs = append(errs, fmt.Errorf("max dirs %d is negative", o.MaxDirs))
	}
	return errors.Join(errs...)
}

// parseLanguage checks a language name from rainflow.yaml.
func parseLanguage(s string) (Language, error) {
	l := Language(strings.ToLower(s))
	switch l {
	case Dockerfile, Go, Node, Python, Java, PHP, Ruby, DotNet, Static:
		return l, nil
	case "node", "javascript":
		return Node, nil
	}
	return "", fmt.Errorf("unknown language %q (want one of dockerfile, go, nodejs, python, java, php, ruby, dotnet, static)", s)
}

// parseBuilder checks a builder name from rainflow.yaml.
func parseBuilder(s string) (Builder, error) {
	switch b := Builder(strings.ToLower(s)); b {
	case BuilderDockerfile, BuilderKo, BuilderGenerated:
		return b, nil
	}
	return "", fmt.Errorf("unknown builder %q (want one of dockerfile, ko, generated)", s)
}
