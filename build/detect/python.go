package detect

import (
	"regexp"
	"strings"
)

var (
	requiresPython = regexp.MustCompile(`(?m)^\s*requires-python\s*=\s*["']([^"']+)["']`)
	reqName        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*`)
)

// detectPython reads runtime.txt / .python-version / pyproject.toml for the version, the
// dependency files for the tool and framework, and guesses a start command from the framework.
func detectPython(d *dir, r *Result) {
	if v := d.firstLine(r, "runtime.txt"); v != "" {
		r.Version = strings.TrimPrefix(v, "python-")
		r.because("runtime.txt says %s", v)
	} else if v := d.firstLine(r, ".python-version"); v != "" {
		r.Version = v
		r.because(".python-version says %s", v)
	}
	pyproject, _ := d.readInto(r, "pyproject.toml")
	if m := requiresPython.FindSubmatch(pyproject); m != nil && r.Version == "" {
		r.Version = string(m[1])
		r.because("pyproject.toml requires-python %s", m[1])
	}
	deps := map[string]bool{}
	switch {
	case d.has("poetry.lock") || strings.Contains(string(pyproject), "[tool.poetry]"):
		r.BuildTool = "poetry"
	case d.has("uv.lock"):
		r.BuildTool = "uv"
	case d.has("Pipfile"):
		r.BuildTool = "pipenv"
	default:
		r.BuildTool = "pip"
	}
	if b, ok := d.readInto(r, "requirements.txt"); ok {
		for _, line := range strings.Split(string(b), "\n") {
			if name := reqName.FindString(strings.TrimSpace(line)); name != "" {
				deps[strings.ToLower(name)] = true
			}
		}
	}
	lowerProject := strings.ToLower(string(pyproject))
	for _, fw := range []string{"django", "fastapi", "flask", "gunicorn", "uvicorn"} {
		if strings.Contains(lowerProject, `"`+fw) || strings.Contains(lowerProject, "\n"+fw+" ") {
			deps[fw] = true
		}
	}
	switch {
	case deps["django"] || d.has("manage.py"):
		r.Framework = "Django"
		if app := djangoProject(d); app != "" {
			withStart(r, "gunicorn "+app+".wsgi --bind 0.0.0.0:8000", app+"/wsgi.py found")
		}
	case deps["fastapi"]:
		r.Framework = "FastAPI"
		if mod := firstFile(d, "main.py", "app.py"); mod != "" {
			withStart(r, "uvicorn "+strings.TrimSuffix(mod, ".py")+":app --host 0.0.0.0 --port 8000", "FastAPI with "+mod)
		}
	case deps["flask"]:
		r.Framework = "Flask"
		if mod := firstFile(d, "app.py", "main.py", "wsgi.py"); mod != "" {
			withStart(r, "gunicorn "+strings.TrimSuffix(mod, ".py")+":app --bind 0.0.0.0:8000", "Flask with "+mod)
		}
	}
	if r.Framework != "" {
		r.because("Python framework %s", r.Framework)
	}
	if mod := firstFile(d, "app.py", "main.py"); mod != "" {
		withStart(r, "python "+mod, mod+" found")
	}
	if r.StartCommand == "" && !d.has("Procfile") {
		r.problem("no start command: add a Procfile web: line or start in rainflow.yaml")
	}
}

// djangoProject finds the package holding wsgi.py next to manage.py.
func djangoProject(d *dir) string {
	for n := range d.names {
		if !d.hasDir(n) {
			continue
		}
		if sub, err := d.t.list(d.join(n)); err == nil && sub.has("wsgi.py") {
			return n
		}
	}
	return ""
}

func firstFile(d *dir, names ...string) string {
	for _, n := range names {
		if d.has(n) {
			return n
		}
	}
	return ""
}
