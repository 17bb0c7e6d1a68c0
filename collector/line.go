package collector

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Kind is what a stream carries.
type Kind string

const (
	// KindEvent is an operation's event log: the steps of one workflow run as the user follows them.
	KindEvent Kind = "event"
	// KindBuild is a build's output.
	KindBuild Kind = "build"
	// KindRuntime is a component's runtime output (its containers' stdout and stderr).
	KindRuntime Kind = "runtime"
	// KindAccess is the gateway's access log of a component.
	KindAccess Kind = "access"
)

// Levels a line may carry; an empty level is stored as LevelInfo.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
)

// Line is one log line, as ingested (one NDJSON object) and as read back.
type Line struct {
	// Time is when the line was emitted; a zero Time is set to the time of ingest.
	Time      time.Time `json:"time"`
	Tenant    string    `json:"tenant"`
	App       string    `json:"app"`
	Component string    `json:"component,omitempty"`
	Operation string    `json:"operation,omitempty"`
	Workflow  string    `json:"workflow,omitempty"`
	Run       string    `json:"run,omitempty"`
	Activity  string    `json:"activity,omitempty"`
	Attempt   int       `json:"attempt,omitempty"`
	Step      string    `json:"step,omitempty"`
	Level     string    `json:"level,omitempty"`
	Message   string    `json:"message"`
	Kind      Kind      `json:"kind"`
}

// StreamKey names a stream: a sequence of lines read back in the order they were acknowledged.
//
// The key is (Kind, Tenant, App, Name), where Name is the Operation id for event and build streams (an
// operation's events, a build's output: one operation, one stream, read whole by whoever follows it) and
// the Component name for runtime and access streams (a component's output across its releases). Tenant
// and App come first so that a later issue can partition apps across collector replicas by (Tenant, App)
// and keep every stream of an app on one replica. The key is also the stream's directory:
// DataDir/streams/Kind/Tenant/App/Name.
type StreamKey struct {
	Kind   Kind
	Tenant string
	App    string
	Name   string
}

// Key returns the stream a line belongs to.
func (l *Line) Key() StreamKey {
	k := StreamKey{Kind: l.Kind, Tenant: l.Tenant, App: l.App, Name: l.Component}
	if l.Kind == KindEvent || l.Kind == KindBuild {
		k.Name = l.Operation
	}
	return k
}

// clone is k with strings of its own (a key read from a borrowed line points into the input).
func (k StreamKey) clone() StreamKey {
	return StreamKey{Kind: Kind(strings.Clone(string(k.Kind))), Tenant: strings.Clone(k.Tenant),
		App: strings.Clone(k.App), Name: strings.Clone(k.Name)}
}

// String is "kind/tenant/app/name", the stream's path in URLs.
func (k StreamKey) String() string {
	return string(k.Kind) + "/" + k.Tenant + "/" + k.App + "/" + k.Name
}

// dir is the stream's directory under root.
func (k StreamKey) dir(root string) string {
	return filepath.Join(root, "streams", string(k.Kind), k.Tenant, k.App, k.Name)
}

// validName says whether s may be a tenant, app, component or operation id: it becomes a directory
// name, so 1 to 128 of [A-Za-z0-9._-], starting with a letter or digit (no separators, no dot files).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// Validate says what is wrong with a stream key.
func (k StreamKey) Validate() error {
	switch k.Kind {
	case KindEvent, KindBuild, KindRuntime, KindAccess:
	case "":
		return errors.New("kind is missing")
	default:
		return fmt.Errorf("kind %q is not one of event, build, runtime, access", k.Kind)
	}
	nameField := "component"
	if k.Kind == KindEvent || k.Kind == KindBuild {
		nameField = "operation"
	}
	for _, f := range []struct{ field, value string }{{"tenant", k.Tenant}, {"app", k.App}, {nameField, k.Name}} {
		if f.value == "" {
			return fmt.Errorf("%s is missing (a %s line needs tenant, app and %s)", f.field, k.Kind, nameField)
		}
		if !validName(f.value) {
			return fmt.Errorf("%s %q must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", f.field, f.value)
		}
	}
	return nil
}

// normalize validates a line and fills its defaults: the ingest time for a zero Time, info for an
// empty Level.
func (l *Line) normalize(now time.Time) error {
	if err := l.Key().Validate(); err != nil {
		return err
	}
	return l.normalizeFields(now)
}

// normalizeFields is normalize for a line whose stream key is known to be valid.
func (l *Line) normalizeFields(now time.Time) error {
	switch l.Level {
	case "":
		l.Level = LevelInfo
	case LevelDebug, LevelInfo, LevelWarn, LevelError:
	default:
		return fmt.Errorf("level %q is not one of debug, info, warn, error", l.Level)
	}
	if l.Attempt < 0 {
		return fmt.Errorf("attempt %d is negative", l.Attempt)
	}
	if l.Time.IsZero() {
		l.Time = now
	}
	return nil
}
