package activities

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestApplyAnswersWhetherTheRolloutIsComplete: Apply answers the workload's state as the apply left
// it, and Complete only when there is nothing to roll out (its controller observed its generation,
// every replica updated, ready and available, no old pod left).
func TestApplyAnswersWhetherTheRolloutIsComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		stateful     bool
		generation   int64
		status       appsv1.DeploymentStatus
		sts          appsv1.StatefulSetStatus
		terminating  bool
		wantComplete bool
	}{
		{
			name: "a deployment that runs its generation everywhere is complete", generation: 4,
			status:       appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
			wantComplete: true,
		},
		{
			name: "a generation its controller has not observed yet is not", generation: 5,
			status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
		},
		{
			name: "a replica not ready is not", generation: 4,
			status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1},
		},
		{
			name: "an old pod left is not", generation: 4,
			status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 3},
		},
		{
			name: "a deployment being deleted is not", generation: 4, terminating: true,
			status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
		},
		{
			name: "a statefulset at its update revision everywhere is complete", stateful: true, generation: 3,
			sts: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				CurrentRevision: "r-2", UpdateRevision: "r-2"},
			wantComplete: true,
		},
		{
			name: "a statefulset between revisions is not", stateful: true, generation: 3,
			sts: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				CurrentRevision: "r-1", UpdateRevision: "r-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			in := releaseInput(2)
			if tt.stateful {
				in = statefulInput(2)
			}
			cs, _ := deployedAs(t, in)
			// the fake neither counts generations nor runs controllers: set what they would have
			if tt.stateful {
				sts := getStatefulSet(t, cs)
				sts.Generation, sts.Status = tt.generation, tt.sts
				if _, err := cs.AppsV1().StatefulSets("acme").UpdateStatus(ctx, sts, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			} else {
				dep := getDeployment(t, cs)
				dep.Generation, dep.Status = tt.generation, tt.status
				if tt.terminating {
					now := metav1.Now()
					dep.DeletionTimestamp, dep.Finalizers = &now, []string{"test/hold"}
				}
				if _, err := cs.AppsV1().Deployments("acme").UpdateStatus(ctx, dep, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := (&Kube{Client: cs}).Apply(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Complete != tt.wantComplete {
				t.Errorf("Complete = %v, want %v (rollout %+v)", got.Complete, tt.wantComplete, got.Rollout)
			}
			if got.Rollout == nil || got.Rollout.Desired != 2 {
				t.Fatalf("rollout %+v, want the workload's state with 2 desired replicas", got.Rollout)
			}
			if got.Generation != tt.generation {
				t.Errorf("generation %d, want %d", got.Generation, tt.generation)
			}
		})
	}
}
