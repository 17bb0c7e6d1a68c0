package collector

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A drained replica hands the follow positions of the runtime output it followed to the new owners: the
// new owner resumes where the drained one stopped even once that one is gone, with no line read twice.
func TestDrainHandsFollowPositions(t *testing.T) {
	t.Parallel()
	tc := startClusterFollowing(t)
	app := ""
	for a := 0; app == ""; a++ {
		if s := fmt.Sprintf("app-%d", a); tc.owner("t1", s) == 1 {
			app = s
		}
	}
	pod := "pod-" + app
	_, err := tc.kube.CoreV1().Pods("t1").Create(t.Context(), componentPod(pod, app, 0, runningState), metav1.CreateOptions{})
	require.NoError(t, err)
	writeLines(tc.logs, pod, 0, 10)
	waitMessages(t, func() []string { return messages(readLocal(t, tc.nodes[1].base, webStream(app))) }, want(pod, 0, 10))

	st := tc.nodes[1].drainToEnd(t)
	require.Equal(t, DrainDone, st.State, "%+v", st)
	require.Equal(t, 1, st.Positions)
	// c-1 follows nothing any more; c-1 goes for good before c-0 learns that it left
	writeLines(tc.logs, pod, 10, 15)
	tc.nodes[1].stop()
	tc.nodes[0].members.set(tc.members[:1])
	writeLines(tc.logs, pod, 15, 20)
	waitMessages(t, func() []string { return messages(readLocal(t, tc.nodes[0].base, webStream(app))) }, want(pod, 10, 20))
	got, _, _ := readPages(t, tc.nodes[0], webStream(app), 1000, "")
	require.Equal(t, want(pod, 0, 20), got, "the copy of c-1's part, then c-0's")
}
