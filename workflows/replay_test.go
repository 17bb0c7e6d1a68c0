package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// TestReplay replays every recorded history in testdata/ against today's workflow code: a change that
// would break a running workflow (a step added, removed or reordered without versioning) fails here.
// Histories are recorded from the real stack: RAINFLOW_RECORD_HISTORY=<file> go test ./tests -run TestVerticalSlice.
func TestReplay(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			h, err := client.HistoryFromJSON(mustOpen(t, f), client.HistoryJSONOptions{})
			if err != nil {
				t.Fatalf("read history %s: %v", f, err)
			}
			r := worker.NewWorkflowReplayer()
			Register(r)
			if err := r.ReplayWorkflowHistory(nil, h); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}
