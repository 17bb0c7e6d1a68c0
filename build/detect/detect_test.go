package detect

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// want is what a test expects of one component; empty fields are not checked.
type want struct {
	path        string
	contextPath string
	language    Language
	version     string
	builder     Builder
	ports       []string // "8080/tcp"
	env         map[string]string
	start       string
	base        string
	main        string
	mains       []string
	framework   string
	buildTool   string
	evidence    []string // substrings, each of some evidence line
	problems    []string // substrings, each of some problem line
	noProblems  bool
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fixture string
		paths   []string // every component's path, in order
		want    []want
		wantErr string
	}{
		{
			name: "dockerfile wins over go and follows stages", fixture: "dockerfile", paths: []string{"."},
			want: []want{{path: ".", language: Dockerfile, builder: BuilderDockerfile, base: "gcr.io/distroless/static:nonroot",
				ports: []string{"8080/tcp", "9090/udp"}, env: map[string]string{"APP_ENV": "production", "LOG_LEVEL": "debug info", "PORT": "8080"},
				start:    "/app --serve",
				evidence: []string{"go.mod also found (Go); Dockerfile takes precedence", "final stage starts from gcr.io/distroless/static:nonroot"}, noProblems: true}},
		},
		{
			name: "go module with a cmd matching the module name", fixture: "go", paths: []string{"."},
			want: []want{{path: ".", language: Go, version: "1.22.5", builder: BuilderKo, ports: []string{"8080/tcp"},
				main: "./cmd/api", mains: []string{"./cmd/api", "./cmd/migrate"}, buildTool: "go",
				evidence: []string{"go.mod says go 1.22.5", "toolchain go1.23.1", "no port declared; using 8080"}, noProblems: true}},
		},
		{
			name: "go with several main packages", fixture: "go-several-mains",
			want: []want{{path: ".", language: Go, version: "1.21", main: "./cmd/a", mains: []string{"./cmd/a", "./cmd/b"},
				problems: []string{"several main packages [./cmd/a ./cmd/b]; chose ./cmd/a; set main in rainflow.yaml"}}},
		},
		{
			name: "node express, public/index.html is not a component", fixture: "node", paths: []string{"."},
			want: []want{{path: ".", language: Node, version: "20.11.1", builder: BuilderGenerated, ports: []string{"3000/tcp"},
				start: "yarn start", framework: "Express", buildTool: "yarn",
				evidence: []string{".nvmrc says node v20.11.1", "package.json depends on express"}, noProblems: true}},
		},
		{
			name: "next.js with pnpm", fixture: "node-next",
			want: []want{{path: ".", language: Node, ports: []string{"3000/tcp"}, start: "pnpm start", framework: "Next.js", buildTool: "pnpm"}},
		},
		{
			name: "malformed package.json is a clear problem", fixture: "node-malformed", paths: []string{"."},
			want: []want{{path: ".", language: Node, ports: []string{"3000/tcp"},
				problems: []string{"package.json: invalid JSON at line 3, column 40: invalid character '}'"}}},
		},
		{
			name: "python django", fixture: "python-django", paths: []string{"."},
			want: []want{{path: ".", language: Python, version: "3.11.4", ports: []string{"8000/tcp"}, framework: "Django", buildTool: "pip",
				start: "gunicorn shop.wsgi --bind 0.0.0.0:8000", evidence: []string{"runtime.txt says python-3.11.4"}, noProblems: true}},
		},
		{
			name: "python fastapi from pyproject", fixture: "python-fastapi",
			want: []want{{path: ".", language: Python, version: "3.12.2", framework: "FastAPI", start: "uvicorn main:app --host 0.0.0.0 --port 8000"}},
		},
		{
			name: "procfile sets the start command", fixture: "python-procfile",
			want: []want{{path: ".", language: Python, framework: "Flask", start: "gunicorn app:app --bind 0.0.0.0:$PORT --workers 4",
				evidence: []string{"Procfile web: gunicorn"}, noProblems: true}},
		},
		{
			name: "maven reactor offers its modules", fixture: "java-maven", paths: []string{".", "billing", "orders"},
			want: []want{
				{path: ".", language: Java, version: "17", problems: []string{"pom.xml only aggregates modules (packaging pom); build one of them: orders, billing"}},
				{path: "orders", contextPath: ".", language: Java, version: "21", framework: "Spring Boot", buildTool: "maven", ports: []string{"8080/tcp"},
					evidence: []string{"pom.xml maven.compiler.release is 21", "module of the Maven reactor in ."}},
				{path: "billing", contextPath: ".", language: Java, version: "11", evidence: []string{"system.properties java.runtime.version=11", "packaging is war"}},
			},
		},
		{
			name: "gradle", fixture: "java-gradle",
			want: []want{{path: ".", language: Java, version: "17", buildTool: "gradle", framework: "Spring Boot"}},
		},
		{
			name: "bare jar", fixture: "java-jar",
			want: []want{{path: ".", language: Java, version: "21", buildTool: "jar", start: "java -jar app.jar"}},
		},
		{
			name: "php laravel", fixture: "php",
			want: []want{{path: ".", language: PHP, version: "8.2", framework: "Laravel", ports: []string{"8080/tcp"}, evidence: []string{"composer.json requires php ^8.2"}}},
		},
		{
			name: "ruby rails", fixture: "ruby",
			want: []want{{path: ".", language: Ruby, version: "3.3.0", framework: "Rails", ports: []string{"3000/tcp"}, start: "bundle exec rails server -b 0.0.0.0 -p 3000"}},
		},
		{
			name: "dotnet web", fixture: "dotnet",
			want: []want{{path: ".", language: DotNet, version: "8.0", framework: "ASP.NET Core", ports: []string{"8080/tcp"}, start: "dotnet Shop.dll"}},
		},
		{
			name: "static site", fixture: "static", paths: []string{"."},
			want: []want{{path: ".", language: Static, builder: BuilderGenerated, ports: []string{"8080/tcp"}, noProblems: true}},
		},
		{
			name: "conflicting markers: go wins over package.json", fixture: "conflict",
			want: []want{{path: ".", language: Go, main: ".", evidence: []string{"go.mod found: Go", "package.json also found (Node.js); Go takes precedence"}}},
		},
		{
			name: "rainflow.yaml overrides", fixture: "overrides",
			want: []want{{path: ".", language: Node, version: "20", ports: []string{"8081/tcp", "5353/udp"}, env: map[string]string{"NODE_ENV": "production"},
				start: "node dist/main.js", evidence: []string{"rainflow.yaml sets ports [8081/tcp 5353/udp]", "rainflow.yaml sets start command"}}},
		},
		{
			name: "rainflow.yaml chooses the language", fixture: "overrides-language",
			want: []want{{path: ".", language: Static, builder: BuilderGenerated, evidence: []string{"requirements.txt found: Python", "rainflow.yaml sets language static"}}},
		},
		{
			name: "rainflow.yaml unknown field", fixture: "overrides-unknown",
			wantErr: `unknown field "prots"`,
		},
		{
			name: "monorepo with three components", fixture: "monorepo", paths: []string{"services/api", "web", "worker"},
			want: []want{
				{path: "services/api", language: Go, version: "1.23", main: "."},
				{path: "web", language: Node, framework: "Vite", ports: []string{"5173/tcp"}, start: "npm start"},
				{path: "worker", language: Python, start: "celery -A tasks worker"},
			},
		},
		{name: "nothing to build", fixture: "empty", paths: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Detect(filepath.Join("testdata", tc.fixture), Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("detect: %v", err)
			}
			if tc.paths != nil {
				var got []string
				for _, c := range rep.Components {
					got = append(got, c.Path)
				}
				if !slices.Equal(got, tc.paths) {
					t.Errorf("component paths = %q, want %q", got, tc.paths)
				}
			}
			for _, w := range tc.want {
				c, ok := rep.Component(w.path)
				if !ok {
					t.Errorf("no component at %s", w.path)
					continue
				}
				check(t, c, w)
			}
		})
	}
}

func check(t *testing.T, c Result, w want) {
	t.Helper()
	eq := func(field, got, want string) {
		if want != "" && got != want {
			t.Errorf("%s: %s = %q, want %q", c.Path, field, got, want)
		}
	}
	eq("language", string(c.Language), string(w.language))
	eq("version", c.Version, w.version)
	eq("builder", string(c.Builder), string(w.builder))
	eq("context path", c.ContextPath, w.contextPath)
	eq("start command", c.StartCommand, w.start)
	eq("base image", c.BaseImage, w.base)
	eq("main package", c.MainPackage, w.main)
	eq("framework", c.Framework, w.framework)
	eq("build tool", c.BuildTool, w.buildTool)
	if w.ports != nil {
		var got []string
		for _, p := range c.Ports {
			got = append(got, p.String())
		}
		if !slices.Equal(got, w.ports) {
			t.Errorf("%s: ports = %q, want %q", c.Path, got, w.ports)
		}
	}
	if w.mains != nil && !slices.Equal(c.MainPackages, w.mains) {
		t.Errorf("%s: main packages = %q, want %q", c.Path, c.MainPackages, w.mains)
	}
	for k, v := range w.env {
		i := slices.IndexFunc(c.Env, func(e EnvVar) bool { return e.Name == k })
		if i < 0 || c.Env[i].Value != v {
			t.Errorf("%s: env %s missing or wrong in %v, want %q", c.Path, k, c.Env, v)
		}
	}
	contains := func(kind string, lines, subs []string) {
		for _, s := range subs {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) }) {
				t.Errorf("%s: no %s line contains %q; have %q", c.Path, kind, s, lines)
			}
		}
	}
	contains("evidence", c.Evidence, w.evidence)
	contains("problem", c.Problems, w.problems)
	if w.noProblems && len(c.Problems) > 0 {
		t.Errorf("%s: problems = %q, want none", c.Path, c.Problems)
	}
}
