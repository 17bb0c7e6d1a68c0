package tests

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// stackDatabase answers the bytes of the stack's SQLite database: the file and its write-ahead log,
// where the latest rows may still be. It answers false (and says so) when the stack runs on another
// database, whose files the test cannot read.
func stackDatabase(t *testing.T) ([]byte, bool) {
	t.Helper()
	if stack.DBDriver != "sqlite" {
		t.Logf("the stack's database is %s: its file is not checked", stack.DBDriver)
		return nil, false
	}
	var db []byte
	for _, path := range []string{stack.DBDSN, stack.DBDSN + "-wal"} {
		raw, err := os.ReadFile(path)
		if !os.IsNotExist(err) {
			require.NoError(t, err)
		}
		db = append(db, raw...)
	}
	return db, true
}

// requireNoEventHolds reads every event of the workflows, as stored (payloads are JSON bytes) and as
// JSON, and fails when one holds any of the secrets (what says what they are); it answers how many
// events it read.
func requireNoEventHolds(t *testing.T, ctx context.Context, tc client.Client, workflowIDs []string, what string, secrets ...string) int {
	t.Helper()
	events := 0
	for _, id := range workflowIDs {
		iter := tc.GetWorkflowHistory(ctx, id, "", false, 0)
		for iter.HasNext() {
			ev, err := iter.Next()
			require.NoError(t, err)
			events++
			raw, err := proto.Marshal(ev)
			require.NoError(t, err)
			text, err := protojson.Marshal(ev)
			require.NoError(t, err)
			for _, v := range secrets {
				require.False(t, bytes.Contains(raw, []byte(v)) || bytes.Contains(text, []byte(v)),
					"event %d (%s) of workflow %s holds %s", ev.GetEventId(), ev.GetEventType(), id, what)
			}
		}
	}
	return events
}
