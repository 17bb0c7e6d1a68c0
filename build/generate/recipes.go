package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/rainflow/rainflow/build/detect"
)

// recipe writes a language's stages and answers the default start command (argv) when the source
// declares none.
type recipe struct {
	needsBuild bool
	write      func(w *writer, r detect.Result, s stage) ([]string, error)
}

var recipes = map[detect.Language]recipe{
	detect.Node:   {needsBuild: true, write: node},
	detect.Python: {write: python},
	detect.Java:   {needsBuild: true, write: java},
	detect.PHP:    {write: php},
	detect.Ruby:   {needsBuild: true, write: ruby},
	detect.DotNet: {needsBuild: true, write: dotnet},
	detect.Go:     {needsBuild: true, write: golang},
	detect.Static: {write: static},
}

// shell is the argv of a start command written as one shell line: exec'd, so the app gets signals.
func shell(cmd string) []string { return []string{"/bin/sh", "-c", "exec " + cmd} }

// start is the declared start command, else def.
func start(r detect.Result, def []string) []string {
	if r.StartCommand != "" {
		return shell(r.StartCommand)
	}
	return def
}

func node(w *writer, r detect.Result, s stage) ([]string, error) {
	install := map[string]string{
		"npm":  "if [ -f package-lock.json ]; then npm ci; else npm install; fi",
		"yarn": "corepack enable && yarn install --frozen-lockfile",
		"pnpm": "corepack enable && pnpm install --frozen-lockfile",
	}[r.BuildTool]
	if install == "" {
		install = "npm install"
	}
	w.line("FROM %s AS build", s.build)
	w.line("WORKDIR /app")
	w.line("COPY . .")
	w.line("RUN %s", install)
	w.line("RUN npm run build --if-present")
	w.line("FROM %s", s.run)
	w.line("WORKDIR /app")
	w.line("ENV NODE_ENV=production")
	w.line("COPY --from=build /app /app")
	return start(r, []string{"npm", "start"}), nil
}

// python installs into the runtime image itself: pip, poetry and pipenv install into its system
// site-packages, which a second stage would have to know the layout of.
func python(w *writer, r detect.Result, s stage) ([]string, error) {
	install := map[string]string{
		"poetry": "pip install --no-cache-dir poetry && poetry config virtualenvs.create false && poetry install --no-root --only main",
		"uv":     "pip install --no-cache-dir uv && uv pip install --system -r pyproject.toml",
		"pipenv": "pip install --no-cache-dir pipenv && pipenv install --system --deploy",
	}[r.BuildTool]
	if install == "" {
		install = "if [ -f requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; " +
			"elif [ -f pyproject.toml ] || [ -f setup.py ]; then pip install --no-cache-dir .; fi"
	}
	w.line("FROM %s", s.run)
	w.line("WORKDIR /app")
	w.line("ENV PYTHONUNBUFFERED=1")
	w.line("COPY . .")
	w.line("RUN %s", install)
	return start(r, nil), nil
}

// javaJar copies the one runnable jar the build made to /app/app.jar.
const javaJar = `set -e; jar=$(find %s -maxdepth 1 -name '*.jar' ! -name '*-plain.jar' ! -name '*-sources.jar' ! -name 'original-*.jar' | head -n 1); ` +
	`[ -n "$jar" ] || { echo "the build made no jar in %s" >&2; exit 1; }; mkdir -p /out && cp "$jar" /out/app.jar`

func java(w *writer, r detect.Result, s stage) ([]string, error) {
	runJar := start(r, []string{"java", "-jar", "/app/app.jar"})
	switch r.BuildTool {
	case "maven", "gradle":
		w.line("FROM %s AS build", s.build)
		w.line("WORKDIR /src")
		w.line("COPY . .")
		module, err := javaModule(r)
		if err != nil {
			return nil, err
		}
		if r.BuildTool == "maven" {
			args := []string{"mvn", "-B", "-q", "-DskipTests", "package"}
			if module != "." {
				args = []string{"mvn", "-B", "-q", "-DskipTests", "-pl", module, "-am", "package"}
			}
			w.line("RUN %s", execForm(args))
			w.line("RUN %s", execForm([]string{"/bin/sh", "-c", fmt.Sprintf(javaJar, path.Join(module, "target"), path.Join(module, "target"))}))
		} else {
			w.line("RUN if [ -x gradlew ]; then ./gradlew build -x test --no-daemon; else gradle build -x test --no-daemon; fi")
			w.line("RUN %s", execForm([]string{"/bin/sh", "-c", fmt.Sprintf(javaJar, "build/libs", "build/libs")}))
		}
		w.line("FROM %s", s.run)
		w.line("WORKDIR /app")
		w.line("COPY --from=build /out/app.jar /app/app.jar")
		return runJar, nil
	case "jar":
		w.line("FROM %s", s.run)
		w.line("WORKDIR /app")
		w.line("COPY . /app")
		return runJar, nil
	case "war":
		w.line("FROM %s", s.run)
		w.line("COPY *.war /usr/local/tomcat/webapps/ROOT.war")
		return start(r, []string{"catalina.sh", "run"}), nil
	default:
		return nil, fmt.Errorf("java build tool %q is not maven, gradle, jar or war", r.BuildTool)
	}
}

// safePath is a relative path of plain names (a Maven module, a Go package).
var safePath = regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_./-]*$`)

// javaModule is the Maven module's path inside the build context; "." for the context itself.
func javaModule(r detect.Result) (string, error) {
	if r.ContextPath == "" || r.ContextPath == r.Path {
		return ".", nil
	}
	rel := r.Path
	if r.ContextPath != "." {
		if len(r.Path) <= len(r.ContextPath) || r.Path[:len(r.ContextPath)+1] != r.ContextPath+"/" {
			return "", fmt.Errorf("module %q is not inside its build context %q", r.Path, r.ContextPath)
		}
		rel = r.Path[len(r.ContextPath)+1:]
	}
	if !safePath.MatchString(rel) || path.Clean(rel) != rel || rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return "", fmt.Errorf("module path %q is not a plain relative path", rel)
	}
	return rel, nil
}

func php(w *writer, r detect.Result, s stage) ([]string, error) {
	w.line("FROM %s", s.run)
	w.line("WORKDIR /app")
	w.line("COPY . /app")
	w.line("RUN if [ -f composer.json ] && command -v composer >/dev/null; then composer install --no-dev --no-interaction --optimize-autoloader; fi")
	port := 8080
	if len(s.ports) > 0 {
		port = s.ports[0]
	}
	root := "/app"
	if r.Framework == "Laravel" || r.Framework == "Symfony" {
		root = "/app/public"
	}
	return start(r, []string{"php", "-S", "0.0.0.0:" + strconv.Itoa(port), "-t", root}), nil
}

func ruby(w *writer, r detect.Result, s stage) ([]string, error) {
	w.line("FROM %s AS build", s.build)
	w.line("WORKDIR /app")
	w.line("COPY . .")
	w.line("ENV BUNDLE_PATH=/bundle BUNDLE_WITHOUT=development:test")
	w.line("RUN bundle install")
	w.line("FROM %s", s.run)
	w.line("WORKDIR /app")
	w.line("ENV BUNDLE_PATH=/bundle BUNDLE_WITHOUT=development:test")
	w.line("COPY --from=build /bundle /bundle")
	w.line("COPY --from=build /app /app")
	return start(r, nil), nil
}

func dotnet(w *writer, r detect.Result, s stage) ([]string, error) {
	w.line("FROM %s AS build", s.build)
	w.line("WORKDIR /src")
	w.line("COPY . .")
	w.line("RUN dotnet publish -c Release -o /out")
	w.line("FROM %s", s.run)
	w.line("WORKDIR /app")
	w.line("COPY --from=build /out /app")
	return start(r, nil), nil
}

func golang(w *writer, r detect.Result, s stage) ([]string, error) {
	pkg := r.MainPackage
	if pkg == "" {
		pkg = "."
	}
	if pkg != "." && (!safePath.MatchString(pkg) || path.Clean(pkg) != pkg || pkg == ".." || len(pkg) > 2 && pkg[:3] == "../") {
		return nil, fmt.Errorf("main package %q is not a plain relative path", pkg)
	}
	if pkg != "." {
		pkg = "./" + pkg
	}
	w.line("FROM %s AS build", s.build)
	w.line("WORKDIR /src")
	w.line("COPY . .")
	w.line("ENV CGO_ENABLED=0")
	mount := ""
	if s.cacheScope != "" {
		// the component's Go build cache, kept by buildkitd between its builds
		mount = "--mount=type=cache,id=" + s.cacheScope + "/go-build,target=/root/.cache/go-build "
	}
	w.line("RUN %s%s", mount, execForm([]string{"go", "build", "-trimpath", "-o", "/out/app", pkg}))
	w.line("FROM %s", s.run)
	w.line("COPY --from=build /out/app /app")
	return start(r, []string{"/app"}), nil
}

func static(w *writer, r detect.Result, s stage) ([]string, error) {
	port := 8080
	if len(s.ports) > 0 {
		port = s.ports[0]
	}
	w.line("FROM %s", s.run)
	w.line("COPY . /www")
	// busybox sh as PID 1 with a trap, so the container ends on TERM rather than at the grace period.
	return start(r, []string{"/bin/sh", "-c", "trap 'exit 0' TERM INT; httpd -f -v -p " + strconv.Itoa(port) + " -h /www & wait"}), nil
}

// execForm is argv as a Dockerfile's JSON exec form: no shell, no variable expansion.
func execForm(argv []string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(argv) // a []string always encodes
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}

// writer accumulates the Dockerfile's lines.
type writer struct{ buf bytes.Buffer }

func (w *writer) line(format string, args ...any) {
	fmt.Fprintf(&w.buf, format, args...)
	w.buf.WriteByte('\n')
}

func (w *writer) bytes() []byte { return w.buf.Bytes() }
