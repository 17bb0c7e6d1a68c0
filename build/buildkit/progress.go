package buildkit

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

// DefaultTailLines is how many of the failing step's last output lines a BuildError keeps.
const DefaultTailLines = 20

// Line is one line of a build's output.
type Line struct {
	Step    string // the vertex's name: "[2/3] RUN make"; empty for the build's own lines
	Level   string // info, error
	Message string
	Time    time.Time
}

// vertex is what the tracker knows of one vertex of the solve.
type vertex struct {
	num       int
	name      string
	started   bool
	completed bool
	err       string
	partial   map[int][]byte // unterminated output, per stream
	tail      []string       // the last output lines
}

// tracker turns BuildKit's progress into output lines and remembers enough of each vertex to say
// which step failed and what it printed last.
type tracker struct {
	out      func(Line)
	tailSize int
	now      func() time.Time

	vertices map[digest.Digest]*vertex
	order    []digest.Digest
	failed   *vertex
	cached   int
	done     int
}

func newTracker(out func(Line), tailSize int) *tracker {
	if tailSize <= 0 {
		tailSize = DefaultTailLines
	}
	return &tracker{out: out, tailSize: tailSize, now: time.Now, vertices: map[digest.Digest]*vertex{}}
}

func (t *tracker) vertex(d digest.Digest) *vertex {
	v, ok := t.vertices[d]
	if !ok {
		v = &vertex{num: len(t.order) + 1, partial: map[int][]byte{}}
		t.vertices[d] = v
		t.order = append(t.order, d)
	}
	return v
}

func (t *tracker) emit(v *vertex, level, msg string) {
	if t.out == nil {
		return
	}
	step := ""
	if v != nil {
		step = v.name
		msg = fmt.Sprintf("#%d %s", v.num, msg)
	}
	t.out(Line{Step: step, Level: level, Message: msg, Time: t.now()})
}

// update takes one status message of the solve.
func (t *tracker) update(s *client.SolveStatus) {
	for _, sv := range s.Vertexes {
		v := t.vertex(sv.Digest)
		if sv.Name != "" {
			v.name = sv.Name
		}
		if sv.Started != nil && !v.started {
			v.started = true
			t.emit(v, "info", v.name)
		}
		switch {
		case sv.Error != "" && v.err == "":
			t.flush(v)
			v.err = sv.Error
			if t.failed == nil && !strings.Contains(sv.Error, "context canceled") {
				t.failed = v
			}
			t.emit(v, "error", "ERROR: "+sv.Error)
		case sv.Completed != nil && !v.completed && sv.Error == "":
			t.flush(v)
			v.completed = true
			t.done++
			if sv.Cached {
				t.cached++
				t.emit(v, "info", "CACHED")
			} else if sv.Started != nil {
				t.emit(v, "info", fmt.Sprintf("DONE %.1fs", sv.Completed.Sub(*sv.Started).Seconds()))
			} else {
				t.emit(v, "info", "DONE")
			}
		}
	}
	for _, l := range s.Logs {
		v := t.vertex(l.Vertex)
		data := append(v.partial[l.Stream], l.Data...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			t.line(v, string(data[:i]))
			data = data[i+1:]
		}
		v.partial[l.Stream] = append([]byte(nil), data...)
	}
	for _, w := range s.Warnings {
		t.emit(t.vertices[w.Vertex], "warn", "WARNING: "+string(w.Short))
	}
}

// line writes one output line of v and keeps it in v's tail.
func (t *tracker) line(v *vertex, s string) {
	s = strings.TrimRight(s, "\r")
	if strings.TrimSpace(s) == "" {
		return
	}
	v.tail = append(v.tail, s)
	if len(v.tail) > t.tailSize {
		v.tail = v.tail[len(v.tail)-t.tailSize:]
	}
	t.emit(v, "info", s)
}

// flush writes v's unterminated output.
func (t *tracker) flush(v *vertex) {
	for stream, rest := range v.partial {
		if len(rest) > 0 {
			t.line(v, string(rest))
		}
		delete(v.partial, stream)
	}
}

// BuildError is a build that failed: which step, its exit code when it ran a command, and the last
// lines it printed.
type BuildError struct {
	Step     string   // the vertex's name, "[2/3] RUN make"; empty when no step failed (a solve error)
	ExitCode int      // the command's exit code; -1 when no command exited
	Lines    []string // the failing step's last output lines
	Cause    string   // BuildKit's error message
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "step %s failed", e.Step)
	} else {
		b.WriteString("build failed")
	}
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, " with exit code %d", e.ExitCode)
	}
	if e.Cause != "" {
		fmt.Fprintf(&b, ": %s", e.Cause)
	}
	if len(e.Lines) > 0 {
		fmt.Fprintf(&b, "\nlast output:\n%s", strings.Join(e.Lines, "\n"))
	}
	return b.String()
}

var exitCodeRe = regexp.MustCompile(`exit code: (\d+)`)

// exitCode finds "exit code: N" in BuildKit's message; -1 when there is none.
func exitCode(msg string) int {
	m := exitCodeRe.FindStringSubmatch(msg)
	if m == nil {
		return -1
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return n
}

// buildError is solveErr as a BuildError, naming the step the progress saw fail.
func (t *tracker) buildError(solveErr error) *BuildError {
	cause := solveErr.Error()
	be := &BuildError{ExitCode: exitCode(cause), Cause: shortCause(cause)}
	v := t.failed
	// a vertex whose error is the solve's is the step that failed it; others failed on their own
	// (a cache import that found no cache yet, which BuildKit only warns about)
	for _, d := range t.order {
		if w := t.vertices[d]; w.err != "" && strings.Contains(cause, w.err) {
			v = w
			break
		}
	}
	if v != nil {
		t.flush(v)
		be.Step = v.name
		be.Lines = append([]string(nil), v.tail...)
		be.Cause = shortCause(v.err)
		if c := exitCode(v.err); c >= 0 {
			be.ExitCode = c
		}
	}
	return be
}

// shortCause drops BuildKit's wrapping of a command's failure down to its last, specific part.
func shortCause(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.LastIndex(msg, "process \""); i >= 0 {
		return msg[i:]
	}
	return msg
}
