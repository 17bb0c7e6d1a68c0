package detect

import (
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
)

var (
	versionNumber = regexp.MustCompile(`\d+(\.\d+)*`)
	gemfileRuby   = regexp.MustCompile(`(?m)^\s*ruby\s+["']([^"']+)["']`)
	gemfileGem    = regexp.MustCompile(`(?m)^\s*gem\s+["']([^"']+)["']`)
)

// detectPHP reads composer.json's require.php and framework.
func detectPHP(d *dir, r *Result) {
	r.BuildTool = "composer"
	b, ok := d.readInto(r, "composer.json")
	if !ok {
		return
	}
	var c struct {
		Require map[string]string `json:"require"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		r.problem("%s: %s", d.join("composer.json"), jsonError(b, err))
		return
	}
	if v := c.Require["php"]; v != "" {
		r.Version = versionNumber.FindString(v)
		r.because("composer.json requires php %s", v)
	}
	for dep, fw := range map[string]string{"laravel/framework": "Laravel", "symfony/framework-bundle": "Symfony"} {
		if _, ok := c.Require[dep]; ok {
			r.Framework = fw
			r.because("composer.json requires %s", dep)
		}
	}
}

// detectRuby reads .ruby-version and the Gemfile.
func detectRuby(d *dir, r *Result) {
	r.BuildTool = "bundler"
	gemfile, _ := d.readInto(r, "Gemfile")
	if v := d.firstLine(r, ".ruby-version"); v != "" {
		r.Version = strings.TrimPrefix(v, "ruby-")
		r.because(".ruby-version says %s", v)
	} else if m := gemfileRuby.FindSubmatch(gemfile); m != nil {
		r.Version = string(m[1])
		r.because("Gemfile says ruby %s", m[1])
	}
	for _, m := range gemfileGem.FindAllSubmatch(gemfile, -1) {
		if string(m[1]) == "rails" {
			r.Framework = "Rails"
			r.because("Gemfile has rails")
			withStart(r, "bundle exec rails server -b 0.0.0.0 -p 3000", "Rails")
		}
	}
	if d.has("config.ru") {
		withStart(r, "bundle exec rackup --host 0.0.0.0 --port 3000", "config.ru found")
	}
}

// detectDotNet reads the project file's TargetFramework and SDK.
func detectDotNet(d *dir, r *Result) {
	r.BuildTool = "dotnet"
	projects := append(d.withSuffix(".csproj"), d.withSuffix(".fsproj")...)
	if len(projects) == 0 {
		return
	}
	b, ok := d.readInto(r, projects[0])
	if !ok {
		return
	}
	var p struct {
		SDK    string `xml:"Sdk,attr"`
		Groups []struct {
			TargetFramework  string `xml:"TargetFramework"`
			TargetFrameworks string `xml:"TargetFrameworks"`
			AssemblyName     string `xml:"AssemblyName"`
		} `xml:"PropertyGroup"`
	}
	if err := xml.Unmarshal(b, &p); err != nil {
		r.problem("%s: invalid XML: %v", d.join(projects[0]), err)
		return
	}
	assembly := strings.TrimSuffix(strings.TrimSuffix(projects[0], ".csproj"), ".fsproj")
	for _, g := range p.Groups {
		tf := g.TargetFramework
		if tf == "" && g.TargetFrameworks != "" {
			tf, _, _ = strings.Cut(g.TargetFrameworks, ";")
		}
		if tf != "" && r.Version == "" {
			r.Version = versionNumber.FindString(tf)
			r.because("%s targets %s", projects[0], tf)
		}
		if g.AssemblyName != "" {
			assembly = g.AssemblyName
		}
	}
	if p.SDK == "Microsoft.NET.Sdk.Web" {
		r.Framework = "ASP.NET Core"
		r.because("%s uses %s", projects[0], p.SDK)
	}
	withStart(r, "dotnet "+assembly+".dll", "assembly "+assembly)
}

// detectStatic marks a directory of files served as they are.
func detectStatic(_ *dir, r *Result) {
	r.because("index.html and no language marker: served as a static site")
}
