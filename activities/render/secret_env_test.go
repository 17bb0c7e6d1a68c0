package render

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rainflow/rainflow/contract"
)

func TestRenderSecretEnv(t *testing.T) {
	t.Parallel()
	const value = "hunter2-plaintext"
	spec := contract.ComponentSpec{
		Replicas:  2,
		Ports:     []contract.Port{{Name: "http", Port: 8080}},
		Env:       []contract.EnvVar{{Name: "MODE", Value: "prod"}},
		DependsOn: []string{"db"},
	}
	deps := []contract.Dependency{{Component: "db", Ports: []contract.Port{{Name: "pg", Port: 5432}}}}
	release := func(version int64, values map[string]string) Release {
		return Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "x@sha256:1", Spec: spec, Dependencies: deps,
			SecretEnv: SecretEnv{Version: version, Values: values}}
	}
	secretRef := func(name string) string {
		return `{"name":"` + name + `","valueFrom":{"secretKeyRef":{"name":"shop-web-secret-env","key":"` + name + `"}}}`
	}
	tests := []struct {
		name     string
		release  Release
		wantErr  string
		objects  string
		workload []string // JSON fragments of the Deployment
		absent   []string // JSON fragments the Deployment must not hold
		secret   map[string]string
	}{
		{
			name:    "no secret env: no Secret, no annotation",
			release: release(0, nil),
			objects: "Service/shop-web Deployment/shop-web",
			absent:  []string{AnnotationSecretEnvVersion, "secretKeyRef"},
		},
		{
			name:    "a version without variables is none",
			release: release(4, map[string]string{}),
			objects: "Service/shop-web Deployment/shop-web",
			absent:  []string{AnnotationSecretEnvVersion, "secretKeyRef"},
		},
		{
			name:    "secret env: a Secret first, read by name, merged by name with env, version on the template",
			release: release(3, map[string]string{"TOKEN": value, "API_KEY": "k"}),
			objects: "Secret/shop-web-secret-env Service/shop-web Deployment/shop-web",
			workload: []string{
				`"env":[` + secretRef("API_KEY") + `,{"name":"DB_HOST","value":"shop-db.acme.svc"},{"name":"DB_PORT","value":"5432"},` +
					`{"name":"DB_PORT_PG","value":"5432"},{"name":"MODE","value":"prod"},` + secretRef("TOKEN") + `]`,
				`"annotations":{"` + AnnotationSecretEnvVersion + `":"3"}`,
			},
			absent: []string{value, base64.StdEncoding.EncodeToString([]byte(value))},
			secret: map[string]string{"TOKEN": value, "API_KEY": "k"},
		},
		{
			name:    "a secret variable wins over a dependency's",
			release: release(1, map[string]string{"DB_HOST": "db.example.com"}),
			objects: "Secret/shop-web-secret-env Service/shop-web Deployment/shop-web",
			workload: []string{
				`"env":[` + secretRef("DB_HOST") + `,{"name":"DB_PORT","value":"5432"},`,
			},
			absent: []string{`{"name":"DB_HOST","value"`},
			secret: map[string]string{"DB_HOST": "db.example.com"},
		},
		{
			name:    "a secret variable also in env is refused, naming it, never its value",
			release: release(1, map[string]string{"MODE": value}),
			wantErr: `secret env: "MODE" is also in env`,
		},
		{
			name:    "a name that is no variable name",
			release: release(1, map[string]string{"1BAD": value, "NO-DASH": "x"}),
			wantErr: `secret env: "1BAD" is not a variable name`,
		},
		{
			name:    "a value too long",
			release: release(1, map[string]string{"BIG": strings.Repeat("x", contract.MaxSecretEnvValueBytes+1)}),
			wantErr: `the value of "BIG" is longer than`,
		},
		{
			name:    "values without a version",
			release: release(0, map[string]string{"A": "1"}),
			wantErr: "values without a version",
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
				if strings.Contains(err.Error(), value) {
					t.Fatalf("the error holds a secret value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(objs); got != tt.objects {
				t.Fatalf("objects %q, want %q", got, tt.objects)
			}
			dep, _ := json.Marshal(objs.Deployment)
			for _, frag := range tt.workload {
				if !strings.Contains(string(dep), frag) {
					t.Errorf("the deployment lacks %s\n%s", frag, dep)
				}
			}
			for _, frag := range tt.absent {
				if strings.Contains(string(dep), frag) {
					t.Errorf("the deployment holds %s\n%s", frag, dep)
				}
			}
			if tt.secret == nil {
				return
			}
			s := objs.Secret
			if *s.Namespace != "acme" || string(*s.Type) != "Opaque" || s.Labels[contract.LabelComponent] != "web" ||
				s.Labels["app.kubernetes.io/managed-by"] != "rainflow" || s.Labels[contract.LabelRelease] != "r1" {
				t.Fatalf("secret metadata %+v", s.ObjectMetaApplyConfiguration)
			}
			got := map[string]string{}
			for k, v := range s.Data {
				got[k] = string(v)
			}
			if len(got) != len(tt.secret) {
				t.Fatalf("secret data %v, want %v", got, tt.secret)
			}
			for k, v := range tt.secret {
				if got[k] != v {
					t.Fatalf("secret data %v, want %v", got, tt.secret)
				}
			}
		})
	}
}

// A new secret env version changes the pod template (and so rolls the pods); a new release of the
// same version does not; the template never depends on the values themselves.
func TestSecretEnvRollsPods(t *testing.T) {
	t.Parallel()
	template := func(releaseID string, version int64, value string) string {
		objs, err := Render(Release{Ref: ref("shop", "web"), ReleaseID: releaseID, Image: "x@sha256:1", Spec: contract.ComponentSpec{Replicas: 1},
			SecretEnv: SecretEnv{Version: version, Values: map[string]string{"TOKEN": value}}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(objs.Deployment.Spec.Template)
		return string(b)
	}
	if template("r1", 1, "a") != template("r2", 1, "a") {
		t.Fatal("the pod template changed with the release alone")
	}
	if template("r1", 1, "a") == template("r1", 2, "b") {
		t.Fatal("the pod template did not change with the secret env version")
	}
	if template("r1", 1, "a") != template("r1", 1, "b") {
		t.Fatal("the pod template depends on the values, not only on the version")
	}
}
