package api

// Fuzz targets for everything on the request path that reads what a client sent: the JSON decoder with
// the component bodies, the spec's normalization and validation, names, Idempotency-Key, If-Match, and
// the query parameters of the lists. `go test` runs their seeds; `make fuzz` fuzzes each for a while.
// Properties: nothing panics; every refusal is a Problem, naming the field when it is about one; and a
// spec the validators pass renders into objects that the apiserver's checks pass (render_check_test.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// specBodies seed the decoders: the bodies of the component tests, valid and not.
func specBodies() []string {
	valid, _ := json.Marshal(validSpec())
	return []string{
		`{"name":"web","spec":{"image":"registry.example:5000/shop/web:1.0","replicas":1,"ports":[{"name":"http","port":8080}],
		"readiness":{"httpPath":"/healthz","port":8080}}}`,
		`{"name":"api","spec":` + string(valid) + `}`,
		`{"name":"db","spec":{"image":"mariadb:11","replicas":1,"stateful":true,"ports":[{"port":3306}],
		"volumes":[{"name":"data","path":"/var/lib/mysql","size":"1Gi"}],"env":[{"name":"MARIADB_ROOT_PASSWORD","value":"x"}]}}`,
		`{"name":"web","spec":{"image":"nginx","replicas":3,"autoscaling":{"minReplicas":2,"maxReplicas":5,"cpuUtilizationPercent":70},
		"configFiles":[{"path":"/etc/nginx/conf.d/app.conf","content":"server {}"}],"dependsOn":["api"],"stopGraceSeconds":10,
		"startup":{"port":80,"periodSeconds":2,"failureThreshold":30},"ports":[{"port":80}],"nodeSelector":{"kubernetes.io/os":"linux"},
		"resources":{"cpuRequest":"100m","cpuLimit":"1","memoryRequest":"64Mi","memoryLimit":"256Mi"}}}`,
		`{"spec":{"image":"","replicas":101}}`,
		`{}`,
		`{"name":"other","spec":{}}`,
		`{"name":"api"}`,
		`{"name":"api","spec":{"replicas":"two"}}`,
		`{"name":"api","spec":{"image":"x","replica":2}}`,
		`{"name":"api","spec":{"image":"x"}} {"again":1}`,
		`[1,2]`, `"x"`, `{"name":`, `{"name":"api","spec":{"ports":[{"port":70000,"protocol":"SCTP"}]}}`,
	}
}

// requestWithBody answers a POST request carrying body as JSON.
func requestWithBody(t *testing.T, body []byte) (*httptest.ResponseRecorder, *http.Request) {
	r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return httptest.NewRecorder(), r
}

// checkProblem requires err to be a Problem of one of the statuses, whose field errors name a field
// that starts with one of the prefixes.
func checkProblem(t *testing.T, err error, statuses []int, prefixes ...string) *Problem {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("refused with %T %v, not a Problem", err, err)
	}
	if !slices.Contains(statuses, p.Status) || !strings.HasPrefix(p.Type, problemBase) || p.Detail == "" {
		t.Fatalf("problem %d %s %q: want one of statuses %v, a type and a detail", p.Status, p.Type, p.Detail, statuses)
	}
	for _, fe := range p.Errors {
		if fe.Field == "" || fe.Reason == "" {
			t.Fatalf("problem %q has a field error without field or reason: %+v", p.Detail, fe)
		}
		if len(prefixes) > 0 && !slices.ContainsFunc(prefixes, func(pre string) bool { return strings.HasPrefix(fe.Field, pre) }) {
			t.Fatalf("problem %q names field %q, not one of %v", p.Detail, fe.Field, prefixes)
		}
	}
	return p
}

// checkAcceptedSpec: a spec the validators passed renders, and the apiserver's checks pass its objects.
func checkAcceptedSpec(t *testing.T, app, component string, spec contract.ComponentSpec) {
	t.Helper()
	objs, err := renderSpec("acme", app, component, spec)
	if err != nil {
		t.Fatalf("the API accepted spec %+v of %s/%s, and rendering it fails: %v", spec, app, component, err)
	}
	if errs := renderedProblems(objs); len(errs) > 0 {
		t.Fatalf("the API accepted spec %+v of %s/%s, and the apiserver would refuse its objects:\n%s", spec, app, component, strings.Join(errs, "\n"))
	}
	again := spec
	normalizeSpec(&again)
	if fmt.Sprint(again) != fmt.Sprint(spec) {
		t.Fatalf("normalizeSpec is not idempotent: %+v became %+v", spec, again)
	}
}

// FuzzDecodeComponentBody decodes a body as POST .../components and PUT .../components/{c} do, then
// validates it.
func FuzzDecodeComponentBody(f *testing.F) {
	for _, b := range specBodies() {
		f.Add([]byte(b), false)
		f.Add([]byte(b), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, put bool) {
		w, r := requestWithBody(t, body)
		var errs fieldErrors
		var name string
		var spec *contract.ComponentSpec
		if put {
			var req putComponentRequest
			if err := decodeJSON(w, r, defaultMaxBodyBytes(), &req); err != nil {
				checkProblem(t, err, []int{400, 413, 415})
				return
			}
			name, spec = "web", req.Spec
		} else {
			var req createComponentRequest
			if err := decodeJSON(w, r, defaultMaxBodyBytes(), &req); err != nil {
				checkProblem(t, err, []int{400, 413, 415})
				return
			}
			name, spec = req.Name, req.Spec
			validateComponentName(&errs, "name", name)
		}
		checked := checkedSpec(&errs, "shop", name, spec)
		if len(errs) > 0 {
			checkProblem(t, validationProblem("component", errs), []int{422}, "name", "spec")
			return
		}
		checkAcceptedSpec(t, "shop", name, checked)
	})
}

// defaultMaxBodyBytes is the body limit the API runs with by default.
func defaultMaxBodyBytes() int64 { return Config{}.withDefaults().MaxBodyBytes }

// FuzzComponentSpec builds specs field by field, so that the fuzzer reaches the specs the validators
// pass far more often than through JSON, and checks that those render into valid objects.
func FuzzComponentSpec(f *testing.F) {
	f.Add("shop", "web", "registry.example:5000/shop/web:1.0", int32(2), int32(8080), "http", "TCP", int32(53), "MODE",
		"250m", "1", "64Mi", "128Mi", "/healthz", int32(8080), "/etc/app/app.conf", "", "", "", "", false,
		int32(0), int32(0), int32(0), "", "kubernetes.io/os", "linux")
	f.Add("db", "mariadb", "mariadb:11", int32(1), int32(3306), "", "TCP", int32(0), "MARIADB_ROOT_PASSWORD",
		"", "", "", "", "", int32(3306), "", "data", "/var/lib/mysql", "1Gi", "", true,
		int32(0), int32(0), int32(0), "", "", "")
	f.Add("a", "b", "nginx", int32(3), int32(80), "web", "UDP", int32(81), "X",
		"1", "1", "1Gi", "1Gi", "/", int32(81), "/a/b", "cache", "/var/cache", "10Gi", "ReadWriteMany", false,
		int32(2), int32(10), int32(70), "api", "node.example/pool", "fast")
	f.Add("0abc", "c9", "localhost:5000/x@sha256:"+strings.Repeat("0", 64), int32(0), int32(1), "p", "TCP", int32(65535), "_A",
		"0", "", "0", "", "", int32(0), "/x", "rainflow-config", "/x", "0", "", false,
		int32(1), int32(1), int32(100), "c9", "", "")
	f.Fuzz(func(t *testing.T, app, component, image string, replicas, port int32, portName, protocol string, port2 int32,
		envName, cpuReq, cpuLim, memReq, memLim, probePath string, probePort int32, filePath, volName, volPath, volSize,
		accessMode string, stateful bool, minReplicas, maxReplicas, cpuPercent int32, dep, nodeKey, nodeValue string) {
		spec := contract.ComponentSpec{
			Image: image, Replicas: replicas, Stateful: stateful,
			Ports: []contract.Port{{Name: portName, Port: port, Protocol: protocol}},
			Env:   []contract.EnvVar{{Name: envName, Value: "v"}},
			Resources: contract.Resources{
				CPURequest: cpuReq, CPULimit: cpuLim, MemoryRequest: memReq, MemoryLimit: memLim,
			},
		}
		if port2 != 0 {
			spec.Ports = append(spec.Ports, contract.Port{Name: "p2", Port: port2})
		}
		if probePort != 0 {
			spec.Readiness = &contract.Probe{HTTPPath: probePath, Port: probePort}
			spec.Liveness = &contract.Probe{Port: probePort, PeriodSeconds: cpuPercent, FailureThreshold: minReplicas}
		}
		if filePath != "" {
			spec.ConfigFiles = []contract.ConfigFile{{Path: filePath, Content: envName}}
		}
		if volName != "" {
			spec.Volumes = []contract.Volume{{Name: volName, Path: volPath, Size: volSize, AccessMode: accessMode, StorageClass: nodeValue}}
		}
		if maxReplicas != 0 {
			spec.Autoscaling = &contract.Autoscaling{MinReplicas: minReplicas, MaxReplicas: maxReplicas, CPUUtilizationPercent: cpuPercent}
		}
		if dep != "" {
			spec.DependsOn = []string{dep}
		}
		if nodeKey != "" {
			spec.NodeSelector = map[string]string{nodeKey: nodeValue}
		}
		var errs fieldErrors
		validateAppName(&errs, "app", app)
		validateComponentName(&errs, "name", component)
		spec = checkedSpec(&errs, app, component, &spec)
		if len(errs) > 0 {
			checkProblem(t, validationProblem("component", errs), []int{422}, "app", "name", "spec")
			return
		}
		checkAcceptedSpec(t, app, component, spec)
	})
}

var (
	dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// FuzzNames: a name the validators pass is a DNS label (a DNS-1035 one for a component), and a
// tenant's is not a namespace Kubernetes keeps.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"acme", "shop", "web", "Shop.Front", "default", "kube-system", "a", "0abc", "-a", "a-",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "ü", "a_b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		check := func(what string, validate func(*fieldErrors, string, string), pattern *regexp.Regexp, extra func(string) bool) {
			var errs fieldErrors
			validate(&errs, "name", name)
			if len(errs) > 0 {
				checkProblem(t, validationProblem(what, errs), []int{422}, "name")
				return
			}
			if len(name) > 63 || !pattern.MatchString(name) || (extra != nil && !extra(name)) {
				t.Fatalf("%s name %q passed validation", what, name)
			}
		}
		check("tenant", validateTenantName, dns1123Label, func(n string) bool { return n != "default" && !strings.HasPrefix(n, "kube-") })
		check("app", validateAppName, dns1123Label, nil)
		check("component", validateComponentName, dns1035Label, nil)
	})
}

// FuzzRequestHeaders: an Idempotency-Key passes exactly when it is at most 255 visible ASCII
// characters, and If-Match matches exactly when one of its comma-separated tags is the ETag or *.
func FuzzRequestHeaders(f *testing.F) {
	keys := []string{"key-1", "KEY-1", "", " ", "a b", "é", strings.Repeat("k", 255), strings.Repeat("k", 256), "\x7f", "~!"}
	headers := []string{`"1"`, `"2"`, `W/"1"`, `*`, `"1", "2"`, `"2","1"`, ` "1" `, ``, `1`, `"1"x`, `,,`}
	for i := range max(len(keys), len(headers)) {
		f.Add(keys[i%len(keys)], headers[i%len(headers)], int64(i%3))
	}
	f.Fuzz(func(t *testing.T, key, header string, version int64) {
		valid := len(key) <= 255 && !strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e })
		p := validateIdempotencyKey(key)
		if (p == nil) != valid {
			t.Fatalf("key %q: valid %v, problem %v", key, valid, p)
		}
		if p != nil {
			checkProblem(t, p, []int{400}, idempotencyKeyHeader)
		}

		etag := etagOf(version)
		got := ifMatches(header, etag)
		want := false
		for _, part := range strings.Split(header, ",") {
			if p := strings.TrimSpace(part); p == "*" || p == etag {
				want = true
			}
		}
		if got != want {
			t.Fatalf("If-Match %q against %s: %v, want %v", header, etag, got, want)
		}
		if ifMatches("W/"+etag, etag) {
			t.Fatalf("a weak tag matched %s", etag)
		}
		if !ifMatches(etag, etag) || !ifMatches(header+","+etag, etag) {
			t.Fatalf("%s does not match itself", etag)
		}
	})
}

// FuzzListQuery: the query parameters of the lists (limit, cursor, the operation filters, volumes)
// read into a page, a filter and a choice, or a 400 problem naming each bad parameter.
func FuzzListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=2", "limit=0", "limit=501", "limit=x", "cursor=abc", "kind=deploy", "kind=app-stop",
		"kind=deplyo", "kind=deploy&kind=stop", "kind=", "requestedBy=alice", "since=2026-01-02T00:00:00Z",
		"since=2026-01-02T00:00:00.123456789%2B02:00&until=2026-01-03T00:00:00Z", "until=2026-01-02", "since=x&until=y",
		"volumes=delete", "volumes=keep&volumes=delete", "volumes=all", "%zz", "since=0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/", nil)
		r.URL.RawQuery = rawQuery
		if page, err := pageOf(r); err != nil {
			checkProblem(t, err, []int{400}, "limit")
		} else if page.Limit < 0 || page.Limit > store.MaxPageLimit {
			t.Fatalf("query %q: limit %d", rawQuery, page.Limit)
		}
		scope := store.OperationFilter{TenantID: "t"}
		if filter, err := operationFilterOf(r, scope); err != nil {
			checkProblem(t, err, []int{400}, kindParam, requestedByParam, sinceParam, untilParam)
		} else {
			if filter.TenantID != "t" {
				t.Fatalf("query %q changed the scope: %+v", rawQuery, filter)
			}
			if filter.Kind != "" && !slices.Contains(operationKinds(), filter.Kind) {
				t.Fatalf("query %q: kind %q", rawQuery, filter.Kind)
			}
			if !filter.Since.IsZero() && !filter.Until.IsZero() && !filter.Until.After(filter.Since) {
				t.Fatalf("query %q: until %s not after since %s", rawQuery, filter.Until, filter.Since)
			}
		}
		if _, err := deleteVolumesOf(r); err != nil {
			checkProblem(t, err, []int{400}, volumesParam)
		}
	})
}

// FuzzListOperationsRequest sends GET /v1/tenants/acme/operations with a fuzzed query and
// Authorization header through the whole handler (authentication, router, store): whatever comes,
// the answer is a list or a problem, never a 500.
func FuzzListOperationsRequest(f *testing.F) {
	st, err := store.Open(f.Context(), store.Config{DSN: ":memory:"}) // quick to open in every fuzz worker
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	tenant, err := st.CreateTenant(f.Context(), store.Tenant{Name: "acme"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 5 {
		if _, err := st.CreateOperation(f.Context(), store.Operation{TenantID: tenant.ID, Kind: contract.OperationDeploy,
			WorkflowID: fmt.Sprintf("wf-%d", i), RequestedBy: "alice"}); err != nil {
			f.Fatal(err)
		}
	}
	const token = "admin-secret-0123456789"
	h := New(Config{AdminToken: token}, st, nil, nil, nil).Handler()
	for _, q := range []string{"", "limit=2", "kind=deploy&requestedBy=alice", "since=2026-01-02T00:00:00Z", "cursor=eyJ0IjoiMjAyNi0wMS0wMlQwMDowMDowMFoiLCJpIjoieCJ9", "cursor=%00"} {
		f.Add(q, "Bearer "+token)
	}
	f.Add("", "")
	f.Add("", "Bearer rft_0123")
	f.Add("", "Basic abc")
	f.Fuzz(func(t *testing.T, rawQuery, authorization string) {
		if strings.ContainsAny(rawQuery, "# \t\r\n") {
			return // not a query a client can send in one request line
		}
		r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v1/tenants/acme/operations", nil)
		r.URL.RawQuery = rawQuery
		r.Header.Set("Authorization", authorization)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			var page struct {
				Items []map[string]any `json:"items"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || page.Items == nil {
				t.Fatalf("query %q: 200 with %s", rawQuery, w.Body.String())
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("query %q: %d is not a problem: %s", rawQuery, w.Code, w.Body.String())
			}
			checkProblem(t, &p, []int{w.Code}, "limit", "cursor", kindParam, requestedByParam, sinceParam, untilParam)
		default:
			q, _ := url.ParseQuery(rawQuery)
			t.Fatalf("query %q (%v), Authorization %q: %d %s", rawQuery, q, authorization, w.Code, w.Body.String())
		}
	})
}
