package activities

import (
	"fmt"
	"strings"

	"github.com/rainflow/rainflow/build/detect"
	"github.com/rainflow/rainflow/contract"
)

// buildPlan is what a build of one source directory does, from detection and the build's settings.
type buildPlan struct {
	builder     string // contract.Builder*
	language    string
	mainPackage string   // Go
	ports       []int    // TCP ports the image declares
	env         []string // KEY=VALUE the image sets
	detected    detect.Result
}

// planBuild detects what dir is and chooses its builder: the settings' when given, else detection's.
func planBuild(dir string, settings contract.BuildSettings) (buildPlan, error) {
	report, err := detect.Detect(dir, detect.Options{})
	if err != nil {
		return buildPlan{}, fmt.Errorf("detect the source: %w", err)
	}
	res, ok := report.Component(".")
	if !ok || (res.Language == "" && settings.Builder == "") {
		why := "no Dockerfile, go.mod, package.json, requirements.txt, pom.xml, ... was found"
		if ok && len(res.Problems) > 0 {
			why = strings.Join(res.Problems, "; ")
		}
		return buildPlan{}, fmt.Errorf("nothing to build in %s: %s", orDefault(settings.Dir, "the source's root"), why)
	}
	p := buildPlan{builder: string(res.Builder), language: string(res.Language), mainPackage: res.MainPackage, detected: res}
	if settings.Builder != "" {
		p.builder = settings.Builder
	}
	if settings.Dockerfile != "" && settings.Builder == "" {
		p.builder = contract.BuilderDockerfile
	}
	for _, port := range res.Ports {
		if port.Protocol == "" || port.Protocol == "tcp" {
			p.ports = append(p.ports, port.Number)
		}
	}
	for _, e := range res.Env {
		p.env = append(p.env, e.Name+"="+e.Value)
	}
	switch p.builder {
	case contract.BuilderKo:
		if p.mainPackage == "" {
			if res.Language != detect.Go {
				return buildPlan{}, fmt.Errorf("the ko builder builds Go, and the source is %s", orDefault(string(res.Language), "not Go"))
			}
			p.mainPackage = "."
		}
	case contract.BuilderDockerfile, contract.BuilderGenerated:
	default:
		return buildPlan{}, fmt.Errorf("builder %q is not one of %s, %s or %s", p.builder,
			contract.BuilderDockerfile, contract.BuilderKo, contract.BuilderGenerated)
	}
	return p, nil
}

// describe says in one line what the plan builds and why.
func (p buildPlan) describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s builder", p.builder)
	if p.language != "" {
		fmt.Fprintf(&b, ", %s", p.language)
		if p.detected.Version != "" {
			fmt.Fprintf(&b, " %s", p.detected.Version)
		}
	}
	if len(p.ports) > 0 {
		fmt.Fprintf(&b, ", ports %v", p.ports)
	}
	if len(p.detected.Evidence) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(p.detected.Evidence, "; "))
	}
	return b.String()
}
