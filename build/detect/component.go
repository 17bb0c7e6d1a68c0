package detect

import "strings"

// match is a detector whose marker is in a directory.
type match struct {
	det    detector
	marker string
}

func matches(d *dir) []match {
	var out []match
	for _, det := range detectors() {
		if m := det.marker(d); m != "" {
			out = append(out, match{det: det, marker: m})
		}
	}
	return out
}

// component detects the directory d. ok is false when d is not a component (no marker, no
// rainflow.yaml). An invalid rainflow.yaml is an error: it is the user's explicit word.
func component(d *dir) (r Result, ok bool, err error) {
	r = Result{Path: d.path}
	ov, hasOv, err := readOverrides(d)
	if err != nil {
		return Result{}, false, err
	}
	found := matches(d)
	if len(found) == 0 && !hasOv {
		return Result{}, false, nil
	}
	var chosen *detector
	if len(found) > 0 {
		chosen = &found[0].det
		r.because("%s found: %s", found[0].marker, found[0].det.name)
		for _, m := range found[1:] {
			r.because("%s also found (%s); %s takes precedence", m.marker, m.det.name, found[0].det.name)
		}
	}
	if ov.Language != "" && (chosen == nil || chosen.lang != ov.Language) {
		for _, det := range detectors() {
			if det.lang == ov.Language {
				chosen = &det
			}
		}
		r.because("rainflow.yaml sets language %s", ov.Language)
	}
	if chosen == nil {
		r.problem("no language marker found; set language in rainflow.yaml")
	} else {
		r.Language, r.Builder = chosen.lang, chosen.builder
		chosen.detect(d, &r)
		if r.Language != Dockerfile {
			applyProcfile(d, &r)
		}
		if len(r.Ports) == 0 && chosen.defaultPort > 0 {
			r.addPort(Port{Number: chosen.defaultPort, Protocol: "tcp"})
			r.because("no port declared; using %d (%s)", chosen.defaultPort, chosen.portNote)
		}
	}
	if hasOv {
		ov.apply(&r)
	}
	if len(r.Ports) == 0 && r.Language == Dockerfile {
		r.problem("Dockerfile has no EXPOSE; set ports in rainflow.yaml")
	}
	return r, true, nil
}

// applyProcfile sets the start command from a Procfile's web process.
func applyProcfile(d *dir, r *Result) {
	b, ok := d.readInto(r, "Procfile")
	if !ok {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, cmd, found := strings.Cut(line, ":")
		if found && strings.TrimSpace(name) == "web" {
			if cmd = strings.TrimSpace(cmd); cmd != "" {
				r.StartCommand = cmd
				r.because("Procfile web: %s", cmd)
				return
			}
		}
	}
	r.problem("%s has no web: process", d.join("Procfile"))
}

// withStart sets the start command when nothing (a Procfile, read later, overrides) set it yet.
func withStart(r *Result, cmd, why string) {
	if r.StartCommand == "" && cmd != "" {
		r.StartCommand = cmd
		r.because("start command %q: %s", cmd, why)
	}
}
