package render

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rainflow/rainflow/contract"
)

func ref(app, comp string) contract.ComponentRef {
	return contract.ComponentRef{Tenant: "acme", App: app, Component: comp}
}

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ref  contract.ComponentRef
		want string
	}{
		{name: "plain", ref: ref("shop", "web"), want: "shop-web"},
		{name: "leading digit gets a letter", ref: ref("9shop", "web"), want: "c-9shop-web"},
		{name: "long names are cut and hashed", ref: ref(strings.Repeat("a", 40), strings.Repeat("b", 40))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Name(tt.ref)
			if tt.want != "" && got != tt.want {
				t.Fatalf("Name = %q, want %q", got, tt.want)
			}
			if len(got) > 63 {
				t.Fatalf("Name %q is %d characters, want <= 63", got, len(got))
			}
		})
	}
	if Name(ref(strings.Repeat("a", 40), strings.Repeat("b", 40))) == Name(ref(strings.Repeat("a", 40), strings.Repeat("b", 39)+"c")) {
		t.Fatal("two long names that differ only at the end render the same name")
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	grace := int64(2)
	web := contract.ComponentSpec{
		Image:            "127.0.0.1:5056/web:v1",
		Replicas:         2,
		Ports:            []contract.Port{{Name: "http", Port: 8080, Protocol: "TCP"}, {Port: 5353, Protocol: "UDP"}},
		Env:              []contract.EnvVar{{Name: "ZED", Value: "1"}, {Name: "ALPHA", Value: "2"}},
		Resources:        contract.Resources{CPURequest: "100m", MemoryLimit: "64Mi"},
		Readiness:        &contract.Probe{HTTPPath: "/healthz", Port: 8080},
		Liveness:         &contract.Probe{Port: 8080, PeriodSeconds: 5},
		StopGraceSeconds: &grace,
	}
	tests := []struct {
		name     string
		release  Release
		wantErr  string
		contains []string // JSON fragments of the rendered objects
		noSvc    bool
	}{
		{
			name:    "stateless web with ports, probes and resources",
			release: Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "127.0.0.1:5056/web@sha256:abc", Spec: web},
			contains: []string{
				`"name":"shop-web","namespace":"acme"`,
				`"image":"127.0.0.1:5056/web@sha256:abc"`,
				`"replicas":2`,
				`"rainflow.io/release":"r1"`,
				`"app.kubernetes.io/part-of":"shop"`,
				`"app.kubernetes.io/managed-by":"rainflow"`,
				`"env":[{"name":"ALPHA","value":"2"},{"name":"ZED","value":"1"}]`,
				`"readinessProbe":{"httpGet":{"path":"/healthz","port":8080}`,
				`"livenessProbe":{"tcpSocket":{"port":8080}`,
				`"requests":{"cpu":"100m"}`,
				`"limits":{"memory":"64Mi"}`,
				`"terminationGracePeriodSeconds":2`,
				`{"name":"udp-5353","protocol":"UDP","port":5353,"targetPort":"udp-5353"}`,
				`"maxUnavailable":0`,
			},
		},
		{
			name:    "no ports, no service",
			release: Release{Ref: ref("jobs", "worker"), ReleaseID: "r2", Image: "reg/worker@sha256:def", Spec: contract.ComponentSpec{Replicas: 1}},
			noSvc:   true,
		},
		{
			name:    "bad quantity is rejected",
			release: Release{Ref: ref("shop", "web"), Image: "x@sha256:1", Spec: contract.ComponentSpec{Resources: contract.Resources{CPULimit: "lots"}}},
			wantErr: `parse cpu quantity "lots"`,
		},
		{
			name:    "no image is rejected",
			release: Release{Ref: ref("shop", "web")},
			wantErr: "no image",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Render(tt.release)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (objs.Service == nil) != tt.noSvc {
				t.Fatalf("service rendered = %v, want %v", objs.Service != nil, !tt.noSvc)
			}
			b, _ := json.Marshal(objs)
			for _, frag := range tt.contains {
				if !strings.Contains(string(b), frag) {
					t.Errorf("rendered objects lack %s\n%s", frag, b)
				}
			}
			again, _ := Render(tt.release)
			b2, _ := json.Marshal(again)
			if string(b) != string(b2) {
				t.Fatal("rendering the same release twice gave different objects")
			}
		})
	}
}

func TestSelectorExcludesRelease(t *testing.T) {
	t.Parallel()
	objs, err := Render(Release{Ref: ref("shop", "web"), ReleaseID: "r9", Image: "x@sha256:1", Spec: contract.ComponentSpec{Replicas: 1}})
	if err != nil {
		t.Fatal(err)
	}
	sel := objs.Deployment.Spec.Selector.MatchLabels
	if _, ok := sel[contract.LabelRelease]; ok {
		t.Fatal("the selector carries the release label: every release would need a new Deployment")
	}
	if _, ok := objs.Deployment.Spec.Template.Labels[contract.LabelRelease]; ok {
		t.Fatal("the pod template carries the release label: a re-deploy of the same spec would restart pods")
	}
}
