package activities

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"go.temporal.io/sdk/temporal"

	"github.com/rainflow/rainflow/activities/render"
	"github.com/rainflow/rainflow/contract"
)

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	in := ApplyInput{
		Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, ReleaseID: "r1",
		Image: "127.0.0.1:5056/web@sha256:aaaa",
		Spec:  contract.ComponentSpec{Replicas: 2, Ports: []contract.Port{{Name: "http", Port: 8080}}},
	}
	ctx := context.Background()
	first, err := k.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Deployment != "shop-web" || first.Service != "shop-web" || first.Namespace != "acme" {
		t.Fatalf("apply result %+v", first)
	}
	if _, err := k.Apply(ctx, in); err != nil {
		t.Fatal(err)
	}
	dep, err := cs.AppsV1().Deployments("acme").Get(ctx, "shop-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != in.Image {
		t.Fatalf("image %s, want %s", got, in.Image)
	}
}

func TestApplyRejectsInvalidSpecForGood(t *testing.T) {
	t.Parallel()
	k := &Kube{Client: fake.NewClientset()}
	_, err := k.Apply(context.Background(), ApplyInput{
		Ref: contract.ComponentRef{Tenant: "acme", App: "shop", Component: "web"}, Image: "x@sha256:1",
		Spec: contract.ComponentSpec{Resources: contract.Resources{MemoryLimit: "a lot"}},
	})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != ErrTypeInvalidSpec || !app.NonRetryable() {
		t.Fatalf("err = %v, want non-retryable %s", err, ErrTypeInvalidSpec)
	}
}

func TestApplyStateful(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	in := statefulInput(3)
	in.Spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/web.conf", Content: "a=1"}}
	got, err := k.Apply(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := ApplyResult{Namespace: "acme", Kind: "StatefulSet", Workload: "shop-web", Deployment: "shop-web", Service: "shop-web", Generation: got.Generation,
		Rollout: &RolloutProgress{Desired: 3}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("result %+v, want %+v", got, want)
	}
	ctx := context.Background()
	sts := getStatefulSet(t, cs)
	if sts.Spec.ServiceName != "shop-web-headless" || *sts.Spec.Replicas != 3 || len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("statefulset spec %+v", sts.Spec)
	}
	headless, err := cs.CoreV1().Services("acme").Get(ctx, "shop-web-headless", metav1.GetOptions{})
	if err != nil || headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
		t.Fatalf("headless service %+v (err %v)", headless, err)
	}
	if cm, err := cs.CoreV1().ConfigMaps("acme").Get(ctx, "shop-web-config", metav1.GetOptions{}); err != nil || cm.Data["etc_web.conf"] != "a=1" {
		t.Fatalf("configmap %+v (err %v)", cm, err)
	}
	if _, err := cs.AppsV1().Deployments("acme").Get(ctx, "shop-web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a stateful component got a deployment (err %v)", err)
	}
	// the same release again changes nothing
	again, err := k.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Generation != got.Generation || len(again.Pruned) != 0 {
		t.Fatalf("re-apply %+v after %+v", again, got)
	}
}

func TestApplyRefusesChangedStatefulVolumes(t *testing.T) {
	t.Parallel()
	cs, _ := deployedAs(t, statefulInput(1))
	in := statefulInput(1)
	in.Spec.Volumes[0].Size = "2Gi"
	_, err := (&Kube{Client: cs}).Apply(context.Background(), in)
	requirePermanent(t, err, ErrTypeInvalidSpec)
	if !strings.Contains(err.Error(), "cannot change once it runs") {
		t.Fatalf("err = %v", err)
	}
}

// Apply deletes what an earlier release made and the new one does not render, and never a volume.
func TestApplyPrunes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		before     func(in *ApplyInput)
		after      func(in *ApplyInput)
		wantPruned []string
		gone       []objectRef
		kept       []objectRef
	}{
		{
			name:       "stateless to stateful",
			after:      func(in *ApplyInput) { in.Spec.Stateful = true },
			wantPruned: []string{"Deployment/shop-web"},
			gone:       []objectRef{{kindDeployment, "shop-web"}},
			kept:       []objectRef{{kindStatefulSet, "shop-web"}, {kindService, "shop-web-headless"}},
		},
		{
			name:       "stateful back to stateless",
			before:     func(in *ApplyInput) { in.Spec.Stateful = true },
			wantPruned: []string{"Service/shop-web-headless", "StatefulSet/shop-web"},
			gone:       []objectRef{{kindStatefulSet, "shop-web"}, {kindService, "shop-web-headless"}},
			kept:       []objectRef{{kindDeployment, "shop-web"}, {kindService, "shop-web"}},
		},
		{
			name:       "config files removed",
			before:     func(in *ApplyInput) { in.Spec.ConfigFiles = []contract.ConfigFile{{Path: "/etc/a", Content: "a"}} },
			wantPruned: []string{"ConfigMap/shop-web-config"},
			gone:       []objectRef{{kindConfigMap, "shop-web-config"}},
		},
		{
			name:       "autoscaling removed",
			before:     func(in *ApplyInput) { in.Spec.Autoscaling = &contract.Autoscaling{MinReplicas: 1, MaxReplicas: 4} },
			wantPruned: []string{"HorizontalPodAutoscaler/shop-web"},
			gone:       []objectRef{{kindAutoscaler, "shop-web"}},
		},
		{
			name:       "ports removed",
			after:      func(in *ApplyInput) { in.Spec.Ports = nil },
			wantPruned: []string{"Service/shop-web"},
			gone:       []objectRef{{kindService, "shop-web"}},
		},
		{
			name: "volumes removed: the claim stays",
			before: func(in *ApplyInput) {
				in.Spec.Replicas = 1
				in.Spec.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
			},
			kept: []objectRef{{kindVolume, "shop-web-data"}},
		},
		{
			name: "stateful to stateless: the StatefulSet's claims stay",
			before: func(in *ApplyInput) {
				in.Spec.Stateful = true
				in.Spec.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
			},
			wantPruned: []string{"Service/shop-web-headless", "StatefulSet/shop-web"},
			kept:       []objectRef{{kindVolume, "data-shop-web-0"}},
		},
	}
	for _, tt := range tests {
		for _, cached := range []bool{false, true} {
			name := tt.name
			if cached {
				name += ", from the cache"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				testApplyPrunes(t, cached, releaseWith(tt.before), releaseWith(tt.after), tt.wantPruned, tt.gone, tt.kept)
			})
		}
	}
}

// releaseWith answers releaseInput(2), changed by change when there is one.
func releaseWith(change func(in *ApplyInput)) ApplyInput {
	in := releaseInput(2)
	if change != nil {
		change(&in)
	}
	return in
}

// testApplyPrunes applies first, then second, and checks what the second pruned; cached, it reads the
// candidates from a synced cache and never gets them from the API.
func testApplyPrunes(t *testing.T, cached bool, first, second ApplyInput, wantPruned []string, gone, kept []objectRef) {
	ctx := context.Background()
	second.ReleaseID = "r2"
	cs, _ := deployedAs(t, first)
	// the claim a StatefulSet controller would have made
	_, _ = cs.CoreV1().PersistentVolumeClaims("acme").Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{
		Name: "data-shop-web-0", Namespace: "acme", Labels: map[string]string{
			contract.LabelTenant: "acme", contract.LabelApp: "shop", contract.LabelComponent: "web", "app.kubernetes.io/managed-by": "rainflow"}}},
		metav1.CreateOptions{})
	k := &Kube{Client: cs}
	if cached {
		k.Cache = startedCache(t, cs, KubeCacheConfig{})
		cs.ClearActions()
	}
	got, err := k.Apply(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cs.Actions() {
		if cached && a.GetVerb() == "get" && a.GetResource().Resource != "statefulsets" {
			t.Errorf("pruning from the cache got %s %s", a.GetResource().Resource, a.(k8stesting.GetAction).GetName())
		}
	}
	if !slices.Equal(got.Pruned, wantPruned) {
		t.Fatalf("pruned %v, want %v", got.Pruned, wantPruned)
	}
	for _, o := range gone {
		if _, err := k.get(ctx, o.kind, "acme", o.name); !apierrors.IsNotFound(err) {
			t.Errorf("%s/%s remains (err %v)", o.kind, o.name, err)
		}
	}
	for _, o := range kept {
		if o.kind == kindVolume {
			if _, err := cs.CoreV1().PersistentVolumeClaims("acme").Get(ctx, o.name, metav1.GetOptions{}); err != nil {
				t.Errorf("volume %s was deleted: %v", o.name, err)
			}
			continue
		}
		if _, err := k.get(ctx, o.kind, "acme", o.name); err != nil {
			t.Errorf("%s/%s is missing: %v", o.kind, o.name, err)
		}
	}
	// nothing left to prune the second time (once the cache saw the deletes)
	for _, o := range gone {
		if !cached {
			break
		}
		eventually(t, "the cache sees "+o.kind+" deleted", func() bool { return k.Cache.get(o.kind, "acme", o.name) == nil })
	}
	again, err := k.Apply(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Pruned) != 0 {
		t.Fatalf("pruned again: %v", again.Pruned)
	}
}

func TestApplyLeavesObjectsItDidNotMake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "shop-web-config", Namespace: "acme"}}
	cs := fake.NewClientset(foreign)
	got, err := (&Kube{Client: cs}).Apply(ctx, releaseInput(1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Pruned) != 0 {
		t.Fatalf("pruned %v", got.Pruned)
	}
	if _, err := cs.CoreV1().ConfigMaps("acme").Get(ctx, "shop-web-config", metav1.GetOptions{}); err != nil {
		t.Fatalf("a ConfigMap without the component's labels was deleted: %v", err)
	}
}

// With autoscaling the workload's apply leaves spec.replicas to the autoscaler; the replicas running
// when autoscaling is turned on stay (they do not fall back to Kubernetes' default of one).
func TestApplyAutoscalingOwnsReplicas(t *testing.T) {
	t.Parallel()
	for _, stateful := range []bool{false, true} {
		t.Run(fmt.Sprintf("stateful=%v", stateful), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			plain := releaseInput(3)
			plain.Spec.Stateful = stateful
			cs, _ := deployedAs(t, plain)
			k := &Kube{Client: cs}
			replicas := func() (int32, string) {
				var obj metav1.Object
				var r *int32
				if stateful {
					sts := getStatefulSet(t, cs)
					obj, r = sts, sts.Spec.Replicas
				} else {
					dep := getDeployment(t, cs)
					obj, r = dep, dep.Spec.Replicas
				}
				if r == nil {
					return -1, fieldsOf(obj, contract.FieldManager)
				}
				return *r, fieldsOf(obj, contract.FieldManager)
			}

			auto := plain
			auto.ReleaseID = "r2"
			auto.Spec.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 6, CPUUtilizationPercent: 50}
			got, err := k.Apply(ctx, auto)
			if err != nil {
				t.Fatal(err)
			}
			if got.Autoscaler != "shop-web" {
				t.Fatalf("result %+v", got)
			}
			n, owned := replicas()
			if n != 3 || strings.Contains(owned, `"f:replicas"`) {
				t.Fatalf("replicas %d, %s owns %s; want 3 replicas it does not own", n, contract.FieldManager, owned)
			}
			hpa, err := cs.AutoscalingV2().HorizontalPodAutoscalers("acme").Get(ctx, "shop-web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if *hpa.Spec.MinReplicas != 2 || hpa.Spec.MaxReplicas != 6 || hpa.Spec.ScaleTargetRef.Kind != got.Kind {
				t.Fatalf("hpa spec %+v", hpa.Spec)
			}

			// the autoscaler scales to 5; a deploy of the autoscaled spec keeps that
			if _, err := k.ScaleWorkload(ctx, ScaleWorkloadInput{Ref: webRef, Replicas: 5}); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Apply(ctx, auto); err != nil {
				t.Fatal(err)
			}
			if n, _ := replicas(); n != 5 {
				t.Fatalf("replicas %d after a deploy, want the autoscaler's 5", n)
			}

			// autoscaling off: the spec's replicas again, and the autoscaler is gone
			plain.ReleaseID = "r3"
			got, err = k.Apply(ctx, plain)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := replicas(); n != 3 || !slices.Equal(got.Pruned, []string{"HorizontalPodAutoscaler/shop-web"}) {
				t.Fatalf("replicas %d, pruned %v; want 3 and the autoscaler", n, got.Pruned)
			}
		})
	}
}

func TestEnsureNamespace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cs := fake.NewClientset()
	k := &Kube{Client: cs}
	got, err := k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	if got != (EnsureNamespaceResult{Namespace: "acme", LimitRange: render.LimitRangeName}) {
		t.Fatalf("result %+v", got)
	}
	lr, err := cs.CoreV1().LimitRanges("acme").Get(ctx, render.LimitRangeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	item := lr.Spec.Limits[0]
	if item.Type != corev1.LimitTypeContainer || item.DefaultRequest.Cpu().String() != render.DefaultCPURequest ||
		item.DefaultRequest.Memory().String() != render.DefaultMemoryRequest || item.Default.Cpu().String() != render.DefaultCPULimit ||
		item.Default.Memory().String() != render.DefaultMemoryLimit {
		t.Fatalf("limit range %+v", item)
	}
	if _, err := cs.CoreV1().ResourceQuotas("acme").Get(ctx, render.ResourceQuotaName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a quota without asking (err %v)", err)
	}

	// a quota and other defaults
	got, err = k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: "acme", ContainerDefaults: contract.Resources{MemoryLimit: "1Gi"},
		Quota: &contract.TenantQuota{CPURequests: "4", MemoryLimits: "8Gi", Storage: "100Gi", Pods: 20, Volumes: 5}})
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceQuota != render.ResourceQuotaName {
		t.Fatalf("result %+v", got)
	}
	q, err := cs.CoreV1().ResourceQuotas("acme").Get(ctx, render.ResourceQuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hard := q.Spec.Hard
	if len(hard) != 5 || hard.Name(corev1.ResourceRequestsCPU, "").String() != "4" || hard.Name(corev1.ResourceLimitsMemory, "").String() != "8Gi" ||
		hard.Name(corev1.ResourceRequestsStorage, "").String() != "100Gi" || hard.Pods().String() != "20" ||
		hard.Name(corev1.ResourcePersistentVolumeClaims, "").String() != "5" {
		t.Fatalf("quota %v", hard)
	}
	lr, _ = cs.CoreV1().LimitRanges("acme").Get(ctx, render.LimitRangeName, metav1.GetOptions{})
	if lr.Spec.Limits[0].Default.Memory().String() != "1Gi" || lr.Spec.Limits[0].Default.Cpu().String() != render.DefaultCPULimit {
		t.Fatalf("limit range %+v", lr.Spec.Limits[0])
	}

	// a deploy ensures the namespace without a quota: the quota stays
	if _, err := k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ResourceQuotas("acme").Get(ctx, render.ResourceQuotaName, metav1.GetOptions{}); err != nil {
		t.Fatalf("the quota went: %v", err)
	}

	_, err = k.EnsureNamespace(ctx, EnsureNamespaceInput{Tenant: "acme", Quota: &contract.TenantQuota{CPULimits: "lots"}})
	requirePermanent(t, err, ErrTypeInvalidSpec)
	_, err = k.EnsureNamespace(ctx, EnsureNamespaceInput{})
	requirePermanent(t, err, ErrTypeInvalidSpec)
}
