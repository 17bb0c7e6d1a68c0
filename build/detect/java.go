package detect

import (
	"encoding/xml"
	"path"
	"regexp"
	"strings"
)

type pom struct {
	ArtifactID string   `xml:"artifactId"`
	Packaging  string   `xml:"packaging"`
	Modules    []string `xml:"modules>module"`
	Parent     struct {
		ArtifactID string `xml:"artifactId"`
	} `xml:"parent"`
	Properties struct {
		JavaVersion string `xml:"java.version"`
		Release     string `xml:"maven.compiler.release"`
		Source      string `xml:"maven.compiler.source"`
	} `xml:"properties"`
	Dependencies []struct {
		ArtifactID string `xml:"artifactId"`
	} `xml:"dependencies>dependency"`
}

var gradleVersion = regexp.MustCompile(`(?:sourceCompatibility\s*=\s*['"]?(?:JavaVersion\.VERSION_)?([0-9_.]+)|JavaLanguageVersion\.of\(\s*(\d+)\s*\))`)

func javaMarker(d *dir) string {
	for _, n := range []string{"pom.xml", "build.gradle", "build.gradle.kts"} {
		if d.has(n) {
			return n
		}
	}
	if jars := d.withSuffix(".jar"); len(jars) > 0 {
		return jars[0]
	}
	if wars := d.withSuffix(".war"); len(wars) > 0 {
		return wars[0]
	}
	return ""
}

// detectJava reads pom.xml (modules, Java version, Spring Boot), a Gradle build, or a bare jar or
// war; system.properties has the last word on the runtime version.
func detectJava(d *dir, r *Result) {
	switch {
	case d.has("pom.xml"):
		javaMaven(d, r)
	case d.has("build.gradle") || d.has("build.gradle.kts"):
		r.BuildTool = "gradle"
		name := firstFile(d, "build.gradle", "build.gradle.kts")
		if b, ok := d.readInto(r, name); ok {
			if m := gradleVersion.FindSubmatch(b); m != nil {
				r.Version = strings.ReplaceAll(string(m[1])+string(m[2]), "_", ".")
				r.because("%s sets Java %s", name, r.Version)
			}
			if strings.Contains(string(b), "org.springframework.boot") {
				r.Framework = "Spring Boot"
			}
		}
	default:
		if jars := d.withSuffix(".jar"); len(jars) > 0 {
			r.BuildTool = "jar"
			withStart(r, "java -jar "+jars[0], "prebuilt "+jars[0])
		} else if wars := d.withSuffix(".war"); len(wars) > 0 {
			r.BuildTool, r.Framework = "war", "Tomcat"
			r.because("prebuilt %s runs in a servlet container", wars[0])
		}
	}
	if b, ok := d.readInto(r, "system.properties"); ok {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "java.runtime.version" {
				r.Version = strings.TrimSpace(v)
				r.because("system.properties java.runtime.version=%s", r.Version)
			}
		}
	}
}

func javaMaven(d *dir, r *Result) {
	r.BuildTool = "maven"
	b, ok := d.readInto(r, "pom.xml")
	if !ok {
		return
	}
	var p pom
	if err := xml.Unmarshal(b, &p); err != nil {
		r.problem("%s: invalid XML: %v", d.join("pom.xml"), err)
		return
	}
	for _, v := range []struct{ val, from string }{{p.Properties.JavaVersion, "java.version"}, {p.Properties.Release, "maven.compiler.release"}, {p.Properties.Source, "maven.compiler.source"}} {
		if v.val != "" && !strings.Contains(v.val, "${") {
			r.Version = v.val
			r.because("pom.xml %s is %s", v.from, v.val)
			break
		}
	}
	spring := p.Parent.ArtifactID == "spring-boot-starter-parent"
	for _, dep := range p.Dependencies {
		spring = spring || strings.HasPrefix(dep.ArtifactID, "spring-boot-starter")
	}
	if spring {
		r.Framework = "Spring Boot"
		r.because("pom.xml uses Spring Boot")
	}
	if p.Packaging == "war" {
		r.because("pom.xml packaging is war")
	}
	for _, m := range p.Modules {
		r.MavenModules = append(r.MavenModules, path.Clean(strings.TrimSpace(m)))
	}
	if len(p.Modules) > 0 {
		r.because("pom.xml aggregates modules %s", strings.Join(r.MavenModules, ", "))
	}
	r.aggregator = p.Packaging == "pom"
	if r.aggregator && len(r.MavenModules) > 0 {
		r.problem("pom.xml only aggregates modules (packaging pom); build one of them: %s", strings.Join(r.MavenModules, ", "))
	}
}
