package api

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// registeredRoutes answers "METHOD /path" of every route on the server's router, as routes.go spells
// the paths (a subrouter's "/" is its own path); a route for every method (r.Handle) is a GET.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	s := New(Config{AdminToken: "admin-secret-0123456789"}, nil, nil, nil, nil)
	router, ok := s.Handler().(chi.Routes)
	require.True(t, ok, "Handler() is the chi router, for chi.Walk")
	methods := map[string][]string{}
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		methods[route] = append(methods[route], method)
		return nil
	})
	require.NoError(t, err)
	var out []string
	for route, ms := range methods {
		if slices.Contains(ms, http.MethodConnect) && slices.Contains(ms, http.MethodTrace) {
			ms = []string{http.MethodGet} // r.Handle: every method
		}
		for _, m := range ms {
			out = append(out, m+" "+route)
		}
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	var documented []string
	for _, op := range apiOperations() {
		documented = append(documented, op.method+" "+op.path)
	}
	slices.Sort(documented)
	routes := registeredRoutes(t)
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered in routes.go but not documented: add its line to apiOperations in openapi.go", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("%s is documented in apiOperations (openapi.go) but no such route is registered in routes.go", d)
		}
	}
}

// TestOpenAPIDocument checks the document's structure: it builds and parses, every $ref resolves,
// every path parameter is declared, every error answer is a Problem.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	g := newSchemaGenerator()
	built, err := g.document()
	require.NoError(t, err)
	raw, err := json.Marshal(built)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, "3.1.0", doc["openapi"])

	// every $ref resolves to an object of the document
	var refs []string
	walkJSON(doc, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			refs = append(refs, ref)
		}
	})
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		_, ok := resolvePointer(doc, ref)
		require.True(t, ok, "$ref %s resolves", ref)
	}

	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name, s := range schemas {
		require.Equal(t, "object", s.(map[string]any)["type"], "schema %s", name)
	}
	ids := map[string]bool{}
	paths := doc["paths"].(map[string]any)
	for path, item := range paths {
		want := pathParams(path)
		for method, o := range item.(map[string]any) {
			op := o.(map[string]any)
			what := strings.ToUpper(method) + " " + path
			id := op["operationId"].(string)
			require.False(t, ids[id], "%s: operationId %s is unique", what, id)
			ids[id] = true
			require.NotEmpty(t, op["summary"], what)

			var declared []string
			params, _ := op["parameters"].([]any)
			seen := map[string]bool{}
			for _, p := range params {
				p := p.(map[string]any)
				key := p["in"].(string) + " " + p["name"].(string)
				require.False(t, seen[key], "%s: parameter %s declared once", what, key)
				seen[key] = true
				require.Contains(t, []string{"path", "query", "header"}, p["in"], what)
				require.NotNil(t, p["schema"], "%s: parameter %s has a schema", what, key)
				if p["in"] == "path" {
					require.Equal(t, true, p["required"], "%s: path parameters are required", what)
					declared = append(declared, p["name"].(string))
				}
			}
			require.Equal(t, want, declared, "%s: every path parameter is declared, and only those", what)

			responses := op["responses"].(map[string]any)
			require.NotEmpty(t, responses, what)
			success := false
			for status, r := range responses {
				code, err := strconv.Atoi(status)
				require.NoError(t, err, "%s: status %s", what, status)
				r := r.(map[string]any)
				require.NotEmpty(t, r["description"], "%s %s", what, status)
				if code < 400 {
					success = true
					continue
				}
				content := r["content"].(map[string]any)
				require.Len(t, content, 1, "%s %s: errors are problem+json only", what, status)
				schema := content["application/problem+json"].(map[string]any)["schema"].(map[string]any)
				require.Equal(t, "#/components/schemas/Problem", schema["$ref"], "%s %s: every error is a Problem", what, status)
				require.NotEmpty(t, r["x-problem-types"], "%s %s lists its problem types", what, status)
			}
			require.True(t, success, "%s has a successful answer", what)
			if code, ok := responses["500"]; !ok || code == nil {
				t.Errorf("%s: every route can answer 500", what)
			}
		}
	}
	for _, field := range requiredInput() {
		require.True(t, g.used[field], "requiredInput entry %s names a field of a request body: fix or remove it", field)
	}
	// the required fields of a request are what its validators need
	require.Equal(t, []any{"name", "spec"}, schemas["CreateComponentRequest"].(map[string]any)["required"])
	require.Equal(t, []any{"image"}, schemas["ComponentSpecInput"].(map[string]any)["required"])
	require.Equal(t, false, schemas["ComponentSpecInput"].(map[string]any)["additionalProperties"], "decodeJSON refuses unknown fields")
	require.Contains(t, schemas["ComponentView"].(map[string]any)["required"], "spec", "an answer's fields without omitempty are always there")
}

// TestOpenAPIProblemTypes: every problem type the package declares has its statuses in
// problemStatuses, so that operations can list it.
func TestOpenAPIProblemTypes(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	statuses := problemStatuses()
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, v := range vs.Values {
				bin, ok := v.(*ast.BinaryExpr)
				if !ok {
					continue
				}
				if x, ok := bin.X.(*ast.Ident); !ok || x.Name != "problemBase" {
					continue
				}
				lit, ok := bin.Y.(*ast.BasicLit)
				if !ok {
					continue
				}
				suffix, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				found++
				if _, ok := statuses[problemBase+suffix]; !ok {
					t.Errorf("problem type %s (%s in %s) is not in problemStatuses (openapi.go): add it with its statuses",
						vs.Names[i].Name, problemBase+suffix, name)
				}
			}
			return true
		})
	}
	require.Greater(t, found, 10)
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := New(Config{AdminToken: "admin-secret-0123456789"}, nil, nil, nil, nil)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, openAPIPath, nil))
	require.Equal(t, http.StatusOK, rec.Code, "served without a token: %s", rec.Body.String())
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &doc))
	require.Contains(t, doc["paths"], "/v1/tenants/{tenant}/apps/{app}/components/{component}")
}

func TestSchemaNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		typ  any
		dir  direction
		want string
	}{
		{name: "view", typ: componentView{}, want: "ComponentView"},
		{name: "list", typ: list[operationView]{}, want: "OperationViewList"},
		{name: "request", typ: scaleRequest{}, dir: input, want: "ScaleRequest"},
		{name: "input form of a shared type", typ: Problem{}, dir: input, want: "ProblemInput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, schemaName(reflect.TypeOf(tt.typ), tt.dir))
		})
	}
}

// walkJSON calls visit on every object of a decoded JSON document.
func walkJSON(v any, visit func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(v)
		for _, x := range v {
			walkJSON(x, visit)
		}
	case []any:
		for _, x := range v {
			walkJSON(x, visit)
		}
	}
}

// resolvePointer resolves a local JSON pointer reference ("#/a/b").
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur any = doc
	for part := range strings.SplitSeq(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
