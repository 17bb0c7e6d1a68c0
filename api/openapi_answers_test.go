package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDescribesAnswers sends requests to the API and checks each request body and each answer
// against the schema GET /v1/openapi.json gives for it: what the document says is what the API reads
// and writes.
func TestOpenAPIDescribesAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := e.ok(http.StatusOK, request{method: "GET", path: "/v1/openapi.json", token: "-"})
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))

	e.seed()
	deploy := jsonOf(t, e.ok(http.StatusAccepted, request{method: "POST", path: webPath + "/deploys", body: `{"rolloutTimeoutSeconds": 60}`}))
	opPath := "/v1/tenants/acme/operations/" + deploy["operationId"].(string)
	etag := e.ok(http.StatusOK, request{method: "GET", path: webPath}).Header().Get("ETag")
	requests := []request{
		{method: "GET", path: "/healthz", token: "-"},
		{method: "GET", path: "/v1/tenants"},
		{method: "GET", path: "/v1/tenants/acme"},
		{method: "GET", path: "/v1/tenants/acme/apps"},
		{method: "GET", path: "/v1/tenants/acme/apps/shop"},
		{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"blog"}`},
		{method: "POST", path: "/v1/tenants/acme/apps/shop/components", body: `{"name":"api","spec":{"image":"` + webImage + `","replicas":2,
			"ports":[{"name":"http","port":8080,"protocol":"TCP"}],"env":[{"name":"A","value":"b"}],"resources":{"cpuRequest":"100m"},
			"liveness":{"port":8080,"periodSeconds":5},"volumes":[{"name":"data","path":"/data","size":"1Gi","accessMode":"ReadWriteMany"}],
			"autoscaling":{"minReplicas":2,"maxReplicas":4},"configFiles":[{"path":"/etc/a.conf","content":"x"}],"dependsOn":["web"]}}`},
		{method: "GET", path: "/v1/tenants/acme/apps/shop/components"},
		{method: "GET", path: webPath},
		{method: "PUT", path: webPath, header: map[string]string{"If-Match": etag},
			body: `{"spec":{"image":"` + webImage + `","replicas":3,"ports":[{"name":"http","port":8080}]}}`},
		{method: "GET", path: webPath + "/operations"},
		{method: "GET", path: webPath + "/releases"},
		{method: "GET", path: "/v1/tenants/acme/apps/shop/operations?kind=deploy"},
		{method: "GET", path: "/v1/tenants/acme/operations"},
		{method: "GET", path: opPath},
		{method: "POST", path: webPath + "/scale", body: `{"replicas": 2}`},
		{method: "POST", path: opPath + "/cancel"},
		// problems
		{method: "GET", path: "/v1/tenants", token: "-"},
		{method: "GET", path: "/v1/tenants/acme/apps/nope"},
		{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"Bad Name"}`},
		{method: "POST", path: "/v1/tenants/acme/apps", body: `{"name":"blog"}`},
		{method: "POST", path: "/v1/tenants/acme/apps", body: `{"nam":"x"}`},
		{method: "GET", path: "/v1/tenants/acme/operations?kind=nope&since=x"},
		{method: "PUT", path: webPath, body: `{"spec":{}}`},
	}
	for _, req := range requests {
		t.Run(req.method+" "+req.path, func(t *testing.T) {
			op, template := documentedOperation(t, doc, req.method, req.path)
			var bodyErrs []string
			if req.body != "" {
				var body any
				require.NoError(t, json.Unmarshal([]byte(req.body), &body))
				schema := dig(op, "requestBody", "content", "application/json", "schema")
				require.NotNil(t, schema, "%s %s documents a request body", req.method, template)
				bodyErrs = conforms(doc, schema, body, "body")
			}
			rec := e.do(req)
			if len(bodyErrs) > 0 && rec.Code < 400 {
				t.Errorf("a body the document calls invalid was accepted (%d):\n%s", rec.Code, strings.Join(bodyErrs, "\n"))
			}
			response := dig(op, "responses", strconv.Itoa(rec.Code))
			require.NotNil(t, response, "%s %s answered %d, which the document does not list: %s", req.method, template, rec.Code, rec.Body.String())
			if rec.Code == http.StatusNoContent {
				return
			}
			contentType, _, _ := strings.Cut(rec.Header().Get("Content-Type"), ";")
			schema := dig(response, "content", contentType, "schema")
			require.NotNil(t, schema, "%s %s %d: the document has no %s answer", req.method, template, rec.Code, contentType)
			var body any
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			if errs := conforms(doc, schema, body, "answer"); len(errs) > 0 {
				t.Errorf("%s %s %d: the answer does not match the document:\n%s\n%s", req.method, template, rec.Code,
					strings.Join(errs, "\n"), rec.Body.String())
			}
			headers, _ := dig(response, "headers").(map[string]any)
			for name := range headers {
				if name != "Link" && name != "Idempotent-Replayed" && name != "Location" {
					require.NotEmpty(t, rec.Header().Get(name), "%s %s %d carries header %s", req.method, template, rec.Code, name)
				}
			}
		})
	}
}

// documentedOperation answers the document's operation for the request and its path template.
func documentedOperation(t *testing.T, doc map[string]any, method, path string) (map[string]any, string) {
	t.Helper()
	path, _, _ = strings.Cut(path, "?")
	var best string
	for template := range doc["paths"].(map[string]any) {
		pattern := "^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(template), `[^/]+`) + "$"
		if regexp.MustCompile(pattern).MatchString(path) && (best == "" || strings.Count(template, "{") < strings.Count(best, "{")) {
			best = template
		}
	}
	require.NotEmpty(t, best, "no documented path matches %s", path)
	op, _ := dig(doc, "paths", best, strings.ToLower(method)).(map[string]any)
	require.NotNil(t, op, "%s %s is not documented", method, best)
	return op, best
}

// dig walks nested objects by their keys; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	if m, ok := v.(map[string]any); ok && m == nil {
		return nil
	}
	return v
}

// conforms checks a decoded JSON value against a JSON Schema of the document (the parts the
// document uses: $ref, type, properties, required, additionalProperties, items, anyOf, enum).
func conforms(doc map[string]any, schema any, v any, at string) []string {
	s, _ := schema.(map[string]any)
	if ref, ok := s["$ref"].(string); ok {
		target := dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
		if target == nil {
			return []string{at + ": $ref " + ref + " does not resolve"}
		}
		return conforms(doc, target, v, at)
	}
	if any, ok := s["anyOf"].([]any); ok {
		var all []string
		for _, alt := range any {
			errs := conforms(doc, alt, v, at)
			if len(errs) == 0 {
				return nil
			}
			all = append(all, errs...)
		}
		return all
	}
	var errs []string
	if typ, ok := s["type"]; ok && !hasType(typ, v) {
		return []string{fmt.Sprintf("%s: %v is not of type %v", at, v, typ)}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch v := v.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		for _, r := range asStrings(s["required"]) {
			if _, ok := v[r]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required %q is missing", at, r))
			}
		}
		for k, x := range v {
			if p, ok := props[k]; ok {
				errs = append(errs, conforms(doc, p, x, at+"."+k)...)
				continue
			}
			switch extra := s["additionalProperties"].(type) {
			case bool:
				if !extra {
					errs = append(errs, fmt.Sprintf("%s: %q is not a documented property", at, k))
				}
			case map[string]any:
				errs = append(errs, conforms(doc, extra, x, at+"."+k)...)
			default:
				if props != nil {
					errs = append(errs, fmt.Sprintf("%s: %q is not a documented property", at, k))
				}
			}
		}
	case []any:
		for i, x := range v {
			errs = append(errs, conforms(doc, s["items"], x, fmt.Sprintf("%s[%d]", at, i))...)
		}
	}
	return errs
}

func hasType(typ any, v any) bool {
	for _, t := range asStrings(typ) {
		switch x := v.(type) {
		case nil:
			if t == "null" {
				return true
			}
		case bool:
			if t == "boolean" {
				return true
			}
		case float64:
			if t == "number" || (t == "integer" && x == float64(int64(x))) {
				return true
			}
		case string:
			if t == "string" {
				return true
			}
		case []any:
			if t == "array" {
				return true
			}
		case map[string]any:
			if t == "object" {
				return true
			}
		}
	}
	return false
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
