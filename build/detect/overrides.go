package detect

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// OverridesFile is the file in a component's directory that overrides what detection found.
const OverridesFile = "rainflow.yaml"

// Overrides is the schema of rainflow.yaml. Every field is optional; unknown fields are rejected.
//
//	language: python          # dockerfile, go, nodejs, python, java, php, ruby, dotnet, static
//	version: "3.12"           # runtime version
//	builder: generated        # dockerfile, ko, generated
//	ports: [8000, "5353/udp"] # replace the detected ports
//	env: {DJANGO_SETTINGS_MODULE: site.settings}  # added over the detected env
//	start: gunicorn site.wsgi # start command
//	main: ./cmd/api           # Go main package
type Overrides struct {
	Language Language          `json:"language,omitempty"`
	Version  string            `json:"version,omitempty"`
	Builder  Builder           `json:"builder,omitempty"`
	Ports    []Port            `json:"ports,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Start    string            `json:"start,omitempty"`
	Main     string            `json:"main,omitempty"`
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseOverrides parses and checks the content of a rainflow.yaml.
func ParseOverrides(b []byte) (Overrides, error) {
	var raw struct {
		Overrides
		Ports []json.RawMessage `json:"ports,omitempty"`
	}
	if err := yaml.UnmarshalStrict(b, &raw); err != nil {
		return Overrides{}, fmt.Errorf("parse %s: %w", OverridesFile, err)
	}
	ov := raw.Overrides
	ov.Ports = nil
	if ov.Language != "" {
		l, err := parseLanguage(string(ov.Language))
		if err != nil {
			return Overrides{}, fmt.Errorf("%s: language: %w", OverridesFile, err)
		}
		ov.Language = l
	}
	if ov.Builder != "" {
		b, err := parseBuilder(string(ov.Builder))
		if err != nil {
			return Overrides{}, fmt.Errorf("%s: builder: %w", OverridesFile, err)
		}
		ov.Builder = b
	}
	for i, rp := range raw.Ports {
		p, err := parsePortValue(rp)
		if err != nil {
			return Overrides{}, fmt.Errorf("%s: ports[%d]: %w", OverridesFile, i, err)
		}
		ov.Ports = append(ov.Ports, p)
	}
	for k := range ov.Env {
		if !envName.MatchString(k) {
			return Overrides{}, fmt.Errorf("%s: env: %q is not a valid variable name", OverridesFile, k)
		}
	}
	return ov, nil
}

// parsePortValue reads 8080, "8080" or "53/udp".
func parsePortValue(raw json.RawMessage) (Port, error) {
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return checkPort(n, "tcp")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return Port{}, fmt.Errorf("want a number or \"number/protocol\", got %s", raw)
	}
	return parsePort(s)
}

// parsePort reads "8080", "8080/tcp" or "53/udp".
func parsePort(s string) (Port, error) {
	num, proto, _ := strings.Cut(strings.TrimSpace(s), "/")
	if proto == "" {
		proto = "tcp"
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return Port{}, fmt.Errorf("port %q is not a number", s)
	}
	return checkPort(n, strings.ToLower(proto))
}

func checkPort(n int, proto string) (Port, error) {
	if n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("port %d is out of range 1-65535", n)
	}
	if proto != "tcp" && proto != "udp" {
		return Port{}, fmt.Errorf("protocol %q is not tcp or udp", proto)
	}
	return Port{Number: n, Protocol: proto}, nil
}

// readOverrides reads the directory's rainflow.yaml, if any.
func readOverrides(d *dir) (Overrides, bool, error) {
	if !d.has(OverridesFile) {
		return Overrides{}, false, nil
	}
	b, err := d.read(OverridesFile)
	if err != nil {
		return Overrides{}, false, err
	}
	ov, err := ParseOverrides(b)
	if err != nil {
		return Overrides{}, false, fmt.Errorf("%s: %w", d.path, err)
	}
	return ov, true, nil
}

// apply writes the overrides over r, noting each as evidence.
func (ov Overrides) apply(r *Result) {
	if ov.Language != "" {
		r.Language = ov.Language
	}
	if ov.Version != "" {
		r.Version = ov.Version
		r.because("rainflow.yaml sets version %s", ov.Version)
	}
	if ov.Builder != "" {
		r.Builder = ov.Builder
		r.because("rainflow.yaml sets builder %s", ov.Builder)
	}
	if len(ov.Ports) > 0 {
		r.Ports = slices.Clone(ov.Ports)
		r.because("rainflow.yaml sets ports %v", ov.Ports)
	}
	keys := make([]string, 0, len(ov.Env))
	for k := range ov.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.setEnv(k, ov.Env[k])
	}
	if len(keys) > 0 {
		r.because("rainflow.yaml sets env %s", strings.Join(keys, ", "))
	}
	if ov.Start != "" {
		r.StartCommand = ov.Start
		r.because("rainflow.yaml sets start command %q", ov.Start)
	}
	if ov.Main != "" {
		r.MainPackage = ov.Main
		r.because("rainflow.yaml sets main package %s", ov.Main)
	}
}
