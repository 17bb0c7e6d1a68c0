package detect

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

type packageJSON struct {
	Name            string            `json:"name"`
	Main            string            `json:"main"`
	Scripts         map[string]string `json:"scripts"`
	Engines         map[string]string `json:"engines"`
	Dependencies    map[string]string `json:"dependencies"`
	DevDependencies map[string]string `json:"devDependencies"`
	PackageManager  string            `json:"packageManager"`
}

// nodeFrameworks maps a dependency to its framework and default port, most specific first.
var nodeFrameworks = []struct {
	dep, name string
	port      int
}{
	{"next", "Next.js", 3000},
	{"nuxt", "Nuxt", 3000},
	{"@nestjs/core", "NestJS", 3000},
	{"@sveltejs/kit", "SvelteKit", 3000},
	{"@angular/core", "Angular", 4200},
	{"react-scripts", "Create React App", 3000},
	{"vite", "Vite", 5173},
	{"fastify", "Fastify", 3000},
	{"koa", "Koa", 3000},
	{"express", "Express", 3000},
}

// detectNode reads package.json, .nvmrc and .node-version, and the lock files.
func detectNode(d *dir, r *Result) {
	r.BuildTool = "npm"
	for _, lock := range []struct{ file, tool string }{{"pnpm-lock.yaml", "pnpm"}, {"yarn.lock", "yarn"}, {"bun.lockb", "bun"}, {"package-lock.json", "npm"}} {
		if d.has(lock.file) {
			r.BuildTool = lock.tool
			r.because("%s found: %s", lock.file, lock.tool)
			break
		}
	}
	if v := d.firstLine(r, ".nvmrc"); v != "" {
		r.Version = strings.TrimPrefix(v, "v")
		r.because(".nvmrc says node %s", v)
	} else if v := d.firstLine(r, ".node-version"); v != "" {
		r.Version = strings.TrimPrefix(v, "v")
		r.because(".node-version says node %s", v)
	}
	b, ok := d.readInto(r, "package.json")
	if !ok {
		return
	}
	var pkg packageJSON
	if err := json.Unmarshal(b, &pkg); err != nil {
		r.problem("%s: %s", d.join("package.json"), jsonError(b, err))
		return
	}
	if v := pkg.Engines["node"]; v != "" && r.Version == "" {
		r.Version = v
		r.because("package.json engines.node is %s", v)
	}
	if tool, _, ok := strings.Cut(pkg.PackageManager, "@"); ok && tool != "" {
		r.BuildTool = tool
		r.because("package.json packageManager is %s", pkg.PackageManager)
	}
	for _, fw := range nodeFrameworks {
		_, dep := pkg.Dependencies[fw.dep]
		_, dev := pkg.DevDependencies[fw.dep]
		if dep || dev {
			r.Framework = fw.name
			r.addPort(Port{Number: fw.port, Protocol: "tcp"})
			r.because("package.json depends on %s: %s, port %d", fw.dep, fw.name, fw.port)
			break
		}
	}
	switch {
	case pkg.Scripts["start"] != "":
		withStart(r, r.BuildTool+" start", fmt.Sprintf("package.json scripts.start is %q", pkg.Scripts["start"]))
	case pkg.Main != "":
		withStart(r, "node "+pkg.Main, "package.json main")
	default:
		for _, f := range []string{"server.js", "app.js", "index.js"} {
			if d.has(f) {
				withStart(r, "node "+f, f+" found")
				break
			}
		}
	}
	if r.StartCommand == "" && !d.has("Procfile") {
		r.problem("no start command: add scripts.start to package.json, a Procfile, or start in rainflow.yaml")
	}
}

// jsonError turns a JSON error into "line L, column C: message".
func jsonError(b []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var off int64
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // the offset is just past the offending byte
	case errors.As(err, &te):
		off = te.Offset
	default:
		return "invalid JSON: " + err.Error()
	}
	line, col := 1, 1
	for _, c := range b[:min(int(off), len(b))] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)
}
