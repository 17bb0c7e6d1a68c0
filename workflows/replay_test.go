package workflows

import (
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rainflow/rainflow/contract"
)

// TestReplay replays every recorded history in testdata/ against today's workflow code: a change that
// would break a running workflow (a step added, removed or reordered without workflow.GetVersion) fails
// here. Histories are recorded from the real stack, for example with the Temporal CLI:
// .rainflow/bin/temporal workflow show -w <workflow id> -r <run id> --output json > workflows/testdata/<name>.json
func TestReplay(t *testing.T) {
	t.Parallel()
	files := histories(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			r := worker.NewWorkflowReplayer()
			Register(r)
			RegisterBuilds(r)
			if err := r.ReplayWorkflowHistory(nil, readHistory(t, f)); err != nil {
				t.Fatalf("replay %s: %v", f, err)
			}
		})
	}
}

// TestReplayCatchesIncompatibleChange proves the replay test can fail: a deploy whose steps changed
// without a GetVersion guard must not replay a history recorded before that change.
func TestReplayCatchesIncompatibleChange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		history string
		changes deployChanges
	}{
		{
			name:    "compensation steps without their guard, on a history from before them",
			history: "testdata/deploy-first.json",
			changes: deployChanges{compensate: true},
		},
		{
			name:    "regular activities, on a history of local steps",
			history: "testdata/deploy-local-steps.json",
			changes: deployChanges{compensate: true, routes: true},
		},
		{
			name:    "no brief wait, on a history with one",
			history: "testdata/deploy-brief-wait.json",
			changes: deployChanges{compensate: true, routes: true, local: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			unguarded := func(ctx workflow.Context, in contract.DeployInput) (contract.DeployResult, error) {
				return runDeploy(ctx, contract.OperationDeploy, in, tt.changes)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(unguarded, workflow.RegisterOptions{Name: contract.WorkflowDeploy})
			if err := r.ReplayWorkflowHistory(nil, readHistory(t, tt.history)); err == nil {
				t.Fatal("an unversioned change of the deploy's steps replayed an older history without error")
			}
		})
	}
}

func histories(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no recorded histories in testdata/")
	}
	return files
}

func readHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("read history %s: %v", path, err)
	}
	return h
}
