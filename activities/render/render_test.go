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

// names lists the objects in apply order, as Kind/name.
func names(o Objects) string {
	var out []string
	if o.Secret != nil {
		out = append(out, "Secret/"+*o.Secret.Name)
	}
	if o.ConfigMap != nil {
		out = append(out, "ConfigMap/"+*o.ConfigMap.Name)
	}
	for _, v := range o.Volumes {
		out = append(out, "PersistentVolumeClaim/"+*v.Name)
	}
	if o.HeadlessService != nil {
		out = append(out, "Service/"+*o.HeadlessService.Name)
	}
	if o.Service != nil {
		out = append(out, "Service/"+*o.Service.Name)
	}
	if o.Deployment != nil {
		out = append(out, "Deployment/"+*o.Deployment.Name)
	}
	if o.StatefulSet != nil {
		out = append(out, "StatefulSet/"+*o.StatefulSet.Name)
	}
	if o.Autoscaler != nil {
		out = append(out, "HorizontalPodAutoscaler/"+*o.Autoscaler.Name)
	}
	return strings.Join(out, " ")
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
	with := func(change func(s *contract.ComponentSpec)) contract.ComponentSpec {
		s := web
		change(&s)
		return s
	}
	release := func(spec contract.ComponentSpec) Release {
		return Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "127.0.0.1:5056/web@sha256:abc", Spec: spec}
	}
	db := contract.ComponentSpec{
		Replicas: 3, Stateful: true,
		Ports:   []contract.Port{{Name: "pg", Port: 5432, Protocol: "TCP"}},
		Volumes: []contract.Volume{{Name: "data", Path: "/var/lib/db", Size: "1Gi", StorageClass: "fast"}},
	}
	deps := []contract.Dependency{
		{Component: "order-db", Ports: []contract.Port{{Name: "pg", Port: 5432}, {Name: "metrics", Port: 9187}}},
		{Component: "cache", Ports: []contract.Port{{Port: 6379}}},
	}
	tests := []struct {
		name     string
		release  Release
		wantErr  string
		objects  string   // the objects rendered, in apply order
		contains []string // JSON fragments of the rendered objects
		absent   []string // JSON fragments they must not hold
	}{
		{
			name:    "stateless web with ports, probes and resources",
			release: release(web),
			objects: "Service/shop-web Deployment/shop-web",
			contains: []string{
				`"name":"shop-web","namespace":"acme"`,
				`"image":"127.0.0.1:5056/web@sha256:abc"`,
				`"replicas":2`,
				`"rainflow.io/release":"r1"`,
				`"rainflow.io/tenant":"acme"`,
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
			absent: []string{`startupProbe`, `volumeMounts`, AnnotationConfigChecksum},
		},
		{
			name:    "no ports, no service",
			release: Release{Ref: ref("jobs", "worker"), ReleaseID: "r2", Image: "reg/worker@sha256:def", Spec: contract.ComponentSpec{Replicas: 1}},
			objects: "Deployment/jobs-worker",
		},
		{
			name: "startup probe",
			release: release(with(func(s *contract.ComponentSpec) {
				s.StartupProbe = &contract.Probe{HTTPPath: "/started", Port: 8080, FailureThreshold: 60}
			})),
			objects: "Service/shop-web Deployment/shop-web",
			contains: []string{`"startupProbe":{"httpGet":{"path":"/started","port":8080},"timeoutSeconds":1,"periodSeconds":2,"failureThreshold":60}`,
				`"readinessProbe"`, `"livenessProbe"`},
		},
		{
			name: "config files: a ConfigMap mounted file by file, its checksum on the pod template",
			release: release(with(func(s *contract.ComponentSpec) {
				s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/web/web.conf", Content: "port=8080\n"}, {Path: "/.env", Content: "A=1"}}
			})),
			objects: "ConfigMap/shop-web-config Service/shop-web Deployment/shop-web",
			contains: []string{
				`"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"shop-web-config","namespace":"acme"`,
				`"data":{".env":"A=1","etc_web_web.conf":"port=8080\n"}`,
				`"volumeMounts":[{"name":"rainflow-config","readOnly":true,"mountPath":"/.env","subPath":".env"},{"name":"rainflow-config","readOnly":true,"mountPath":"/etc/web/web.conf","subPath":"etc_web_web.conf"}]`,
				`"volumes":[{"name":"rainflow-config","configMap":{"name":"shop-web-config"}}]`,
				`"annotations":{"rainflow.io/config-checksum":"`,
				`"env":[{"name":"ALPHA","value":"2"},{"name":"ZED","value":"1"}]`, // the plain env stays inline
			},
		},
		{
			name: "config paths that would share a key get hashed keys",
			release: release(with(func(s *contract.ComponentSpec) {
				s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/a_b", Content: "1"}, {Path: "/etc/a/b", Content: "2"}, {Path: "/etc/c", Content: "3"}}
			})),
			objects:  "ConfigMap/shop-web-config Service/shop-web Deployment/shop-web",
			contains: []string{`"etc_a_b-`, `"etc_c":"3"`},
			absent:   []string{`"etc_a_b":`},
		},
		{
			name: "stateless volumes: one claim each, mounted; ReadWriteOnce replaces the pods by Recreate",
			release: release(with(func(s *contract.ComponentSpec) {
				s.Replicas = 1
				s.Volumes = []contract.Volume{{Name: "uploads", Path: "/srv/uploads", Size: "2Gi"}, {Name: "cache", Path: "/srv/cache", Size: "500Mi", AccessMode: "ReadWriteMany", StorageClass: "nfs"}}
			})),
			objects: "PersistentVolumeClaim/shop-web-cache PersistentVolumeClaim/shop-web-uploads Service/shop-web Deployment/shop-web",
			contains: []string{
				`"name":"shop-web-cache","namespace":"acme"`,
				`"spec":{"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"500Mi"}},"storageClassName":"nfs"}`,
				`"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}}}`,
				`"volumes":[{"name":"cache","persistentVolumeClaim":{"claimName":"shop-web-cache"}},{"name":"uploads","persistentVolumeClaim":{"claimName":"shop-web-uploads"}}]`,
				`"volumeMounts":[{"name":"cache","mountPath":"/srv/cache"},{"name":"uploads","mountPath":"/srv/uploads"}]`,
				`"strategy":{"type":"Recreate"}`,
			},
			absent: []string{`"maxSurge"`},
		},
		{
			name: "stateless ReadWriteMany volume keeps the rolling update",
			release: release(with(func(s *contract.ComponentSpec) {
				s.Volumes = []contract.Volume{{Name: "shared", Path: "/shared", Size: "1Gi", AccessMode: "ReadWriteMany"}}
			})),
			objects:  "PersistentVolumeClaim/shop-web-shared Service/shop-web Deployment/shop-web",
			contains: []string{`"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0,"maxSurge":1}`},
		},
		{
			name:    "stateful: StatefulSet, headless Service, volumeClaimTemplates",
			release: Release{Ref: ref("shop", "db"), ReleaseID: "r3", Image: "reg/pg@sha256:1", Spec: db},
			objects: "Service/shop-db-headless Service/shop-db StatefulSet/shop-db",
			contains: []string{
				`"kind":"StatefulSet"`,
				`"replicas":3`,
				`"serviceName":"shop-db-headless"`,
				`"podManagementPolicy":"Parallel"`,
				`"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0}}`,
				`"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Retain","whenScaled":"Retain"}`,
				`"clusterIP":"None"`,
				`"publishNotReadyAddresses":true`,
				`"volumeClaimTemplates":[{"metadata":{"name":"data","labels":{`,
				`"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}},"storageClassName":"fast"}`,
				`"volumeMounts":[{"name":"data","mountPath":"/var/lib/db"}]`,
			},
			absent: []string{`"kind":"Deployment"`, `"persistentVolumeClaim":{`},
		},
		{
			name:    "stateful without ports: a headless Service without ports, no Service",
			release: Release{Ref: ref("shop", "queue"), ReleaseID: "r3", Image: "reg/q@sha256:1", Spec: contract.ComponentSpec{Replicas: 1, Stateful: true}},
			objects: "Service/shop-queue-headless StatefulSet/shop-queue",
		},
		{
			name: "autoscaling: an HPA owns the replicas, the Deployment sets none",
			release: release(with(func(s *contract.ComponentSpec) {
				s.Autoscaling = &contract.Autoscaling{MinReplicas: 2, MaxReplicas: 10}
			})),
			objects: "Service/shop-web Deployment/shop-web HorizontalPodAutoscaler/shop-web",
			contains: []string{
				`"kind":"HorizontalPodAutoscaler","apiVersion":"autoscaling/v2"`,
				`"scaleTargetRef":{"kind":"Deployment","name":"shop-web","apiVersion":"apps/v1"},"minReplicas":2,"maxReplicas":10`,
				`"metrics":[{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}}]`,
			},
			absent: []string{`"replicas":`},
		},
		{
			name: "dependencies: host and ports injected, the component's own env wins",
			release: Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "x@sha256:1", Spec: with(func(s *contract.ComponentSpec) {
				s.DependsOn = []string{"order-db", "cache"}
				s.Env = append(s.Env, contract.EnvVar{Name: "CACHE_PORT", Value: "7000"})
			}), Dependencies: deps},
			objects:  "Service/shop-web Deployment/shop-web",
			contains: []string{`"env":[{"name":"ALPHA","value":"2"},{"name":"CACHE_HOST","value":"shop-cache.acme.svc"},{"name":"CACHE_PORT","value":"7000"},{"name":"CACHE_PORT_TCP_6379","value":"6379"},{"name":"ORDER_DB_HOST","value":"shop-order-db.acme.svc"},{"name":"ORDER_DB_PORT","value":"5432"},{"name":"ORDER_DB_PORT_METRICS","value":"9187"},{"name":"ORDER_DB_PORT_PG","value":"5432"},{"name":"ZED","value":"1"}]`},
		},
		{
			name:     "a dependency whose ports are unknown gets its host only",
			release:  release(with(func(s *contract.ComponentSpec) { s.Env = nil; s.DependsOn = []string{"auth"} })),
			objects:  "Service/shop-web Deployment/shop-web",
			contains: []string{`"env":[{"name":"AUTH_HOST","value":"shop-auth.acme.svc"}]`},
		},
		{
			name: "everything at once: stateful, config, volumes, autoscaling, dependencies",
			release: Release{Ref: ref("shop", "db"), ReleaseID: "r4", Image: "reg/pg@sha256:1", Dependencies: deps[1:], Spec: func() contract.ComponentSpec {
				s := db
				s.ConfigFiles = []contract.ConfigFile{{Path: "/etc/pg/pg.conf", Content: "max_connections=10"}}
				s.Autoscaling = &contract.Autoscaling{MinReplicas: 1, MaxReplicas: 3, CPUUtilizationPercent: 60}
				s.DependsOn = []string{"cache"}
				s.StartupProbe = &contract.Probe{Port: 5432}
				return s
			}()},
			objects: "ConfigMap/shop-db-config Service/shop-db-headless Service/shop-db StatefulSet/shop-db HorizontalPodAutoscaler/shop-db",
			contains: []string{
				`"scaleTargetRef":{"kind":"StatefulSet","name":"shop-db"`,
				`"averageUtilization":60`,
				`"volumeMounts":[{"name":"rainflow-config","readOnly":true,"mountPath":"/etc/pg/pg.conf","subPath":"etc_pg_pg.conf"},{"name":"data","mountPath":"/var/lib/db"}]`,
				`"volumes":[{"name":"rainflow-config","configMap":{"name":"shop-db-config"}}]`,
				`{"name":"CACHE_HOST","value":"shop-cache.acme.svc"}`,
				`"startupProbe":{"tcpSocket":{"port":5432}`,
			},
			absent: []string{`"replicas":`},
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
		{
			name:    "a stateful name too long for its pods' labels",
			release: Release{Ref: ref(strings.Repeat("a", 30), strings.Repeat("b", 30)), Image: "x@sha256:1", Spec: contract.ComponentSpec{Stateful: true}},
			wantErr: "longer than 52 characters",
		},
		{
			name: "two mounts at one path",
			release: release(with(func(s *contract.ComponentSpec) {
				s.ConfigFiles = []contract.ConfigFile{{Path: "/data", Content: "x"}}
				s.Volumes = []contract.Volume{{Name: "data", Path: "/data", Size: "1Gi"}}
			})),
			wantErr: `volumes[0]: path "/data" is already mounted by configFiles[0]`,
		},
		{
			name:    "a relative config path",
			release: release(with(func(s *contract.ComponentSpec) { s.ConfigFiles = []contract.ConfigFile{{Path: "etc/x"}} })),
			wantErr: `path "etc/x" must be absolute`,
		},
		{
			name: "a config too large for a ConfigMap",
			release: release(with(func(s *contract.ComponentSpec) {
				s.ConfigFiles = []contract.ConfigFile{{Path: "/big", Content: strings.Repeat("x", 1<<20)}}
			})),
			wantErr: "more than a ConfigMap holds",
		},
		{
			name:    "autoscaling min above max",
			release: release(with(func(s *contract.ComponentSpec) { s.Autoscaling = &contract.Autoscaling{MinReplicas: 5, MaxReplicas: 2} })),
			wantErr: "autoscaling: need 1 <= minReplicas (5) <= maxReplicas (2)",
		},
		{
			name: "volume: bad size, unknown access mode, reserved and repeated names",
			release: release(with(func(s *contract.ComponentSpec) {
				s.Volumes = []contract.Volume{{Name: "rainflow-config", Path: "/a", Size: "lots"}, {Name: "b", Path: "/b", Size: "1Gi", AccessMode: "ReadOnlyMany"},
					{Name: "b", Path: "/c", Size: "-1Gi"}}
			})),
			wantErr: `volumes[0]: name "rainflow-config" is reserved`,
		},
		{
			name:    "depends on itself",
			release: release(with(func(s *contract.ComponentSpec) { s.DependsOn = []string{"db", "web", "db"} })),
			wantErr: "dependsOn[1]: a component cannot depend on itself",
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
			if got := names(objs); got != tt.objects {
				t.Fatalf("objects %q, want %q", got, tt.objects)
			}
			b, _ := json.Marshal(objs)
			for _, frag := range tt.contains {
				if !strings.Contains(string(b), frag) {
					t.Errorf("rendered objects lack %s\n%s", frag, b)
				}
			}
			for _, frag := range tt.absent {
				if strings.Contains(string(b), frag) {
					t.Errorf("rendered objects hold %s\n%s", frag, b)
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

func TestRenderErrorsListEveryProblem(t *testing.T) {
	t.Parallel()
	_, err := Render(Release{Ref: ref("shop", "web"), Image: "x@sha256:1", Spec: contract.ComponentSpec{
		Volumes: []contract.Volume{{Name: "rainflow-config", Path: "/a", Size: "lots"}, {Name: "b", Path: "/b", Size: "1Gi", AccessMode: "ReadOnlyMany"},
			{Name: "b", Path: "/c", Size: "-1Gi", StorageClass: "Not A Class"}},
		DependsOn: []string{"db", "db", "9lives"},
	}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`volumes[0]: name "rainflow-config" is reserved`, `volumes[0]: size "lots"`, `volumes[1]: access mode "ReadOnlyMany"`,
		`volumes[2]: name "b" is used twice`, `volumes[2]: size "-1Gi"`, `volumes[2]: storage class "Not A Class"`,
		`dependsOn[1]: "db" is listed twice`, `dependsOn[2]: "9lives" is not a component name`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err lacks %q:\n%v", want, err)
		}
	}
}

// The order of config files, volumes and dependencies in the spec does not change the objects.
func TestRenderIgnoresListOrder(t *testing.T) {
	t.Parallel()
	spec := contract.ComponentSpec{
		Replicas:    1,
		Ports:       []contract.Port{{Name: "http", Port: 80}},
		ConfigFiles: []contract.ConfigFile{{Path: "/etc/a", Content: "a"}, {Path: "/etc/b", Content: "b"}, {Path: "/etc/c", Content: "c"}},
		Volumes:     []contract.Volume{{Name: "x", Path: "/x", Size: "1Gi", AccessMode: "ReadWriteMany"}, {Name: "y", Path: "/y", Size: "1Gi", AccessMode: "ReadWriteMany"}},
		DependsOn:   []string{"p", "q"},
	}
	deps := []contract.Dependency{{Component: "p", Ports: []contract.Port{{Port: 1}}}, {Component: "q", Ports: []contract.Port{{Port: 2}}}}
	first, err := Render(Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "x@sha256:1", Spec: spec, Dependencies: deps})
	if err != nil {
		t.Fatal(err)
	}
	spec.ConfigFiles = []contract.ConfigFile{spec.ConfigFiles[2], spec.ConfigFiles[0], spec.ConfigFiles[1]}
	spec.Volumes = []contract.Volume{spec.Volumes[1], spec.Volumes[0]}
	spec.DependsOn = []string{"q", "p"}
	second, err := Render(Release{Ref: ref("shop", "web"), ReleaseID: "r1", Image: "x@sha256:1", Spec: spec, Dependencies: []contract.Dependency{deps[1], deps[0]}})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(second)
	if string(a) != string(b) {
		t.Fatalf("reordered lists render differently:\n%s\n%s", a, b)
	}
}

// A config change changes the pod template (and so rolls the pods); a new release of the same spec
// does not.
func TestConfigChecksum(t *testing.T) {
	t.Parallel()
	checksum := func(releaseID, content string) string {
		objs, err := Render(Release{Ref: ref("shop", "web"), ReleaseID: releaseID, Image: "x@sha256:1", Spec: contract.ComponentSpec{
			ConfigFiles: []contract.ConfigFile{{Path: "/etc/app.conf", Content: content}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return objs.Deployment.Spec.Template.Annotations[AnnotationConfigChecksum]
	}
	if checksum("r1", "a=1") != checksum("r2", "a=1") {
		t.Fatal("the checksum changed with the release alone")
	}
	if checksum("r1", "a=1") == checksum("r1", "a=2") {
		t.Fatal("the checksum did not change with the config")
	}
}

func TestLongNamesStayLabels(t *testing.T) {
	t.Parallel()
	r := ref(strings.Repeat("a", 30), strings.Repeat("b", 32))
	for _, n := range []string{Name(r), HeadlessServiceName(r)} {
		if len(n) > 63 {
			t.Fatalf("%q is %d characters", n, len(n))
		}
	}
	if !strings.HasSuffix(HeadlessServiceName(r), "-headless") {
		t.Fatalf("headless name %q", HeadlessServiceName(r))
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
