package detect

import (
	"encoding/json"
	"regexp"
	"strings"
)

// stage is one FROM of a Dockerfile and what it declares.
type stage struct {
	name   string
	base   string
	parent *stage // when FROM names an earlier stage
	env    []EnvVar
	ports  []Port
	cmd    string
}

var heredoc = regexp.MustCompile(`<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?`)

// dockerLines joins continuation lines and drops comments and heredoc bodies, returning the
// instructions in order.
func dockerLines(src string) []string {
	var out []string
	var cur strings.Builder
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		inst := strings.TrimSpace(cur.String())
		cur.Reset()
		if m := heredoc.FindStringSubmatch(inst); m != nil {
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != m[1]; i++ {
			}
		}
		if inst != "" {
			out = append(out, inst)
		}
	}
	return out
}

// detectDockerfile reads the final stage's base image, ports, env and command, following
// FROM <earlier stage> back to the image it starts from.
func detectDockerfile(d *dir, r *Result) {
	if b, ok := d.readInto(r, "Dockerfile"); ok {
		parseDockerfile(string(b), r)
	}
}

// parseDockerfile fills r from the Dockerfile's text.
func parseDockerfile(src string, r *Result) {
	args := map[string]string{} // ARG defaults before the first FROM
	var stages []*stage
	var cur *stage
	for _, inst := range dockerLines(src) {
		kw, rest, _ := strings.Cut(inst, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(kw) {
		case "ARG":
			if cur == nil {
				for _, w := range splitWords(rest) {
					k, v, _ := strings.Cut(w, "=")
					args[k] = v
				}
			}
		case "FROM":
			cur = &stage{}
			words := splitWords(rest)
			for len(words) > 0 && strings.HasPrefix(words[0], "--") {
				words = words[1:]
			}
			if len(words) == 0 {
				r.problem("Dockerfile: FROM without an image")
				continue
			}
			cur.base = expand(words[0], args, nil)
			if len(words) >= 3 && strings.EqualFold(words[1], "AS") {
				cur.name = strings.ToLower(words[2])
			}
			for _, s := range stages {
				if s.name != "" && s.name == strings.ToLower(cur.base) {
					cur.parent = s
				}
			}
			stages = append(stages, cur)
		case "ENV":
			if cur != nil {
				cur.env = append(cur.env, parseEnv(rest)...)
			}
		case "EXPOSE":
			if cur != nil {
				for _, w := range splitWords(rest) {
					p, err := parsePort(expand(w, args, cur.env))
					if err != nil {
						r.problem("Dockerfile: EXPOSE %s: %v", w, err)
						continue
					}
					cur.ports = append(cur.ports, p)
				}
			}
		case "CMD", "ENTRYPOINT":
			if cur != nil {
				cur.cmd = execForm(rest)
			}
		}
	}
	if cur == nil {
		r.problem("Dockerfile has no FROM")
		return
	}
	var chain []*stage // final stage first, back to the one that names an image
	for s := cur; s != nil; s = s.parent {
		chain = append(chain, s)
	}
	root := chain[len(chain)-1]
	r.BaseImage = root.base
	r.because("Dockerfile final stage starts from %s", root.base)
	for i := len(chain) - 1; i >= 0; i-- {
		for _, e := range chain[i].env {
			r.setEnv(e.Name, e.Value)
		}
		for _, p := range chain[i].ports {
			r.addPort(p)
		}
		if chain[i].cmd != "" {
			r.StartCommand = chain[i].cmd
		}
	}
	if len(r.Ports) > 0 {
		r.because("Dockerfile EXPOSE %v", r.Ports)
	}
}

// parseEnv reads "A=1 B='x y'" or the legacy "A some value".
func parseEnv(rest string) []EnvVar {
	words := splitWords(rest)
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(rest, " ")
		return []EnvVar{{Name: k, Value: strings.TrimSpace(v)}}
	}
	var out []EnvVar
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		out = append(out, EnvVar{Name: k, Value: v})
	}
	return out
}

// execForm renders CMD ["a", "b"] as "a b" and leaves the shell form as it is.
func execForm(rest string) string {
	var argv []string
	if json.Unmarshal([]byte(rest), &argv) == nil {
		return strings.Join(argv, " ")
	}
	return rest
}

// splitWords splits on unquoted spaces, removing quotes and backslash escapes.
func splitWords(s string) []string {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	escaped := false
	for _, c := range s {
		switch {
		case escaped:
			cur.WriteRune(c)
			escaped = false
		case c == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

var dockerVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expand substitutes $VAR, ${VAR} and ${VAR:-default} from the stage's env, then the ARG defaults.
// An unknown variable is left as written.
func expand(s string, args map[string]string, env []EnvVar) string {
	return dockerVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := dockerVar.FindStringSubmatch(m)
		name := sub[1] + sub[3]
		for i := len(env) - 1; i >= 0; i-- {
			if env[i].Name == name {
				return env[i].Value
			}
		}
		if v, ok := args[name]; ok && v != "" {
			return v
		}
		if sub[2] != "" {
			return sub[2]
		}
		return m
	})
}
