package detect

// detector recognises one language in a directory and reads what it declares. Detectors are tried
// in priority order; the first whose marker is present wins, the others are noted as evidence.
type detector struct {
	lang        Language
	name        string                  // for evidence: "Go", "Node.js"
	marker      func(d *dir) string     // the file that marks the language, "" when absent
	detect      func(d *dir, r *Result) // fills r from the directory
	builder     Builder                 // default builder
	defaultPort int                     // used when nothing declares a port; 0 for none
	portNote    string                  // why that default
}

// detectors in priority order: a Dockerfile wins over any language; back-end languages win over
// Node.js (a package.json beside them is usually front-end tooling); a static site is what is left.
func detectors() []detector {
	return []detector{
		{lang: Dockerfile, name: "Dockerfile", marker: fileMarker("Dockerfile"), detect: detectDockerfile, builder: BuilderDockerfile},
		{lang: Go, name: "Go", marker: fileMarker("go.mod"), detect: detectGo, builder: BuilderKo, defaultPort: 8080, portNote: "Go convention"},
		{lang: Java, name: "Java", marker: javaMarker, detect: detectJava, builder: BuilderGenerated, defaultPort: 8080, portNote: "Java servers' default"},
		{lang: Python, name: "Python", marker: fileMarker("requirements.txt", "pyproject.toml", "Pipfile", "setup.py", "runtime.txt"), detect: detectPython, builder: BuilderGenerated, defaultPort: 8000, portNote: "gunicorn/uvicorn default"},
		{lang: Ruby, name: "Ruby", marker: fileMarker("Gemfile"), detect: detectRuby, builder: BuilderGenerated, defaultPort: 3000, portNote: "Rails/Puma default"},
		{lang: PHP, name: "PHP", marker: fileMarker("composer.json", "index.php"), detect: detectPHP, builder: BuilderGenerated, defaultPort: 8080, portNote: "PHP image default"},
		{lang: DotNet, name: ".NET", marker: suffixMarker(".csproj", ".fsproj"), detect: detectDotNet, builder: BuilderGenerated, defaultPort: 8080, portNote: "ASP.NET Core 8 default"},
		{lang: Node, name: "Node.js", marker: fileMarker("package.json"), detect: detectNode, builder: BuilderGenerated, defaultPort: 3000, portNote: "Node.js convention"},
		{lang: Static, name: "static site", marker: fileMarker("index.html"), detect: detectStatic, builder: BuilderGenerated, defaultPort: 8080, portNote: "static file server default"},
	}
}

func fileMarker(names ...string) func(d *dir) string {
	return func(d *dir) string {
		for _, n := range names {
			if d.has(n) {
				return n
			}
		}
		return ""
	}
}

func suffixMarker(suffixes ...string) func(d *dir) string {
	return func(d *dir) string {
		for _, s := range suffixes {
			if m := d.withSuffix(s); len(m) > 0 {
				return m[0]
			}
		}
		return ""
	}
}
