package collector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPartitionConfigValidate(t *testing.T) {
	t.Parallel()
	two := []string{"c-0=http://127.0.0.1:7001", "c-1=http://127.0.0.1:7002"}
	for _, tc := range []struct {
		name string
		p    Partition
		err  string
	}{
		{name: "single collector", p: Partition{}},
		{name: "static members", p: Partition{Self: "c-1", Members: two}},
		{name: "members service", p: Partition{Self: "collector-abc", MembersService: "rainflow/collector"}},
		{name: "follow alone", p: Partition{FollowRuntime: true, FollowNamespace: "t1"}},
		{name: "members without self", p: Partition{Members: two}, err: "collector self is empty"},
		{name: "service without self", p: Partition{MembersService: "rainflow/collector"}, err: "collector self is empty"},
		{name: "self not a member", p: Partition{Self: "c-9", Members: two}, err: `collector self "c-9" is not one of the members`},
		{name: "bad member", p: Partition{Self: "c-0", Members: []string{"c-0=http://x", "c-1"}}, err: `member "c-1" is not name=url`},
		{name: "bad service", p: Partition{Self: "c-0", MembersService: "collector"}, err: `"collector" is not namespace/name`},
		{name: "both sources", p: Partition{Self: "c-0", Members: two, MembersService: "a/b"}, err: "both set"},
		{name: "negative flush", p: Partition{FollowFlush: -time.Second}, err: "collector follow flush -1s is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Config{DataDir: "x", Partition: tc.p}.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
	require.Equal(t, Partition{ForwardTimeout: 10 * time.Second, FollowFlush: 100 * time.Millisecond, HandoverTimeout: 10 * time.Second},
		Partition{}.withDefaults())
}
