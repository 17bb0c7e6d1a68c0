package generate

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/build/detect"
)

var update = flag.Bool("update", false, "rewrite the golden Dockerfiles in testdata")

func tcp(n int) []detect.Port { return []detect.Port{{Number: n, Protocol: "tcp"}} }

func TestDockerfile(t *testing.T) {
	cfg := DefaultConfig("127.0.0.1:5000")
	require.NoError(t, cfg.Validate())
	tests := []struct {
		name    string
		result  detect.Result
		golden  string // testdata/<golden>.Dockerfile; empty when an error is wanted
		wantErr string
		config  func(Config) Config // changes the default config for the case
	}{
		{name: "node npm with a start script", golden: "node",
			result: detect.Result{Path: ".", Language: detect.Node, Version: ">=20", BuildTool: "npm", StartCommand: "npm start", Ports: tcp(3000)}},
		{name: "node yarn without a start command uses npm start", golden: "node-yarn",
			result: detect.Result{Path: ".", Language: detect.Node, BuildTool: "yarn", Ports: tcp(3000)}},
		{name: "python flask", golden: "python",
			result: detect.Result{Path: ".", Language: detect.Python, Version: "3.11.4", BuildTool: "pip",
				StartCommand: "gunicorn app:app --bind 0.0.0.0:8000", Ports: tcp(8000)}},
		{name: "python poetry", golden: "python-poetry",
			result: detect.Result{Path: ".", Language: detect.Python, BuildTool: "poetry", StartCommand: "python main.py", Ports: tcp(8000)}},
		{name: "java maven", golden: "java-maven",
			result: detect.Result{Path: ".", Language: detect.Java, Version: "17", BuildTool: "maven", Ports: tcp(8080)}},
		{name: "java maven module of a reactor", golden: "java-maven-module",
			result: detect.Result{Path: "services/api", ContextPath: ".", Language: detect.Java, BuildTool: "maven", Ports: tcp(8080)}},
		{name: "java gradle", golden: "java-gradle",
			result: detect.Result{Path: ".", Language: detect.Java, Version: "21", BuildTool: "gradle", Ports: tcp(8080)}},
		{name: "java prebuilt jar", golden: "java-jar",
			result: detect.Result{Path: ".", Language: detect.Java, BuildTool: "jar", StartCommand: "java -jar app-1.0.jar", Ports: tcp(8080)}},
		{name: "java war on tomcat", golden: "java-war",
			result: detect.Result{Path: ".", Language: detect.Java, BuildTool: "war", Framework: "Tomcat", Ports: tcp(8080)}},
		{name: "php laravel", golden: "php",
			result: detect.Result{Path: ".", Language: detect.PHP, Version: "8.2", Framework: "Laravel", BuildTool: "composer", Ports: tcp(8080)}},
		{name: "ruby rails", golden: "ruby",
			result: detect.Result{Path: ".", Language: detect.Ruby, Version: "3.2.2", BuildTool: "bundler",
				StartCommand: "bundle exec rails server -b 0.0.0.0 -p 3000", Ports: tcp(3000)}},
		{name: "dotnet web", golden: "dotnet",
			result: detect.Result{Path: ".", Language: detect.DotNet, Version: "8.0", BuildTool: "dotnet", StartCommand: "dotnet Web.dll", Ports: tcp(8080)}},
		{name: "go main package in cmd", golden: "go",
			result: detect.Result{Path: ".", Language: detect.Go, Version: "1.22", MainPackage: "cmd/server", Ports: tcp(8080)}},
		{name: "go with a configured build image and the component's build cache", golden: "go-cache",
			result: detect.Result{Path: ".", Language: detect.Go, Version: "1.22", Ports: tcp(8080)},
			config: func(c Config) Config {
				c = c.WithBuildImage(detect.Go, "127.0.0.1:5000/rainflow/base/go:1.26.8")
				c.CacheScope = "acme/shop/api"
				return c
			}},
		{name: "a cache scope that is not a repository path", wantErr: `cache scope "a b" is not a repository path`,
			result: detect.Result{Path: ".", Language: detect.Go, Ports: tcp(8080)},
			config: func(c Config) Config { c.CacheScope = "a b"; return c }},
		{name: "static site", golden: "static",
			result: detect.Result{Path: ".", Language: detect.Static, Ports: tcp(8080)}},
		{name: "user strings stay data: start command, env values and names", golden: "quoting",
			result: detect.Result{Path: ".", Language: detect.Node, BuildTool: "npm", Ports: tcp(3000),
				StartCommand: `node server.js "$HOME" ; echo '\'`,
				Env:          []detect.EnvVar{{Name: "GREETING", Value: `say "hi" \ $USER ${X}`}, {Name: "PORT", Value: "3000"}}}},
		{name: "a start command with a line break cannot add an instruction", golden: "newline-start",
			result: detect.Result{Path: ".", Language: detect.Static, Ports: tcp(8080), StartCommand: "x\nRUN rm -rf /"}},
		{name: "env value with a line break", wantErr: "env A: a value cannot hold a line break",
			result: detect.Result{Path: ".", Language: detect.Node, Ports: tcp(3000), Env: []detect.EnvVar{{Name: "A", Value: "1\nRUN id"}}}},
		{name: "env name that is not a name", wantErr: `env name "A B" is not a valid variable name`,
			result: detect.Result{Path: ".", Language: detect.Node, Ports: tcp(3000), Env: []detect.EnvVar{{Name: "A B", Value: "1"}}}},
		{name: "port out of range", wantErr: "port 70000 is not between 1 and 65535",
			result: detect.Result{Path: ".", Language: detect.Static, Ports: tcp(70000)}},
		{name: "python without a start command", wantErr: "no start command for the python source",
			result: detect.Result{Path: ".", Language: detect.Python, BuildTool: "pip", Ports: tcp(8000)}},
		{name: "go main package escaping the source", wantErr: `main package "../x" is not a plain relative path`,
			result: detect.Result{Path: ".", Language: detect.Go, MainPackage: "../x"}},
		{name: "a Dockerfile source is not generated", wantErr: "no base images are configured for dockerfile",
			result: detect.Result{Path: ".", Language: detect.Dockerfile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.config != nil {
				c = tc.config(cfg)
			}
			got, err := c.Dockerfile(tc.result)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			path := filepath.Join("testdata", tc.golden+".Dockerfile")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestWithBuildImage: the copy has the new builder image, the config it came from keeps its own.
func TestWithBuildImage(t *testing.T) {
	cfg := DefaultConfig("reg:5000")
	changed := cfg.WithBuildImage(detect.Go, "reg:5000/rainflow/base/go:1.26.8")
	require.Equal(t, "reg:5000/rainflow/base/go:1.26.8", changed.Images[detect.Go].Build)
	require.Equal(t, "reg:5000/rainflow/base/busybox:1", changed.Images[detect.Go].Run)
	require.Equal(t, "reg:5000/rainflow/base/go:{version}", cfg.Images[detect.Go].Build)
	require.NoError(t, changed.Validate())
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		images  Images
		wantErr string
	}{
		{name: "plain references", images: Images{Build: "reg:5000/b:{version}", Run: "reg:5000/r@sha256:abc", DefaultVersion: "1.2"}},
		{name: "no runtime image", images: Images{Build: "b"}, wantErr: "has no runtime image"},
		{name: "an image with a line break", images: Images{Run: "r\nRUN id"}, wantErr: "is not an image reference"},
		{name: "a default version that is not one", images: Images{Run: "r:{version}", DefaultVersion: "latest"}, wantErr: "is not a version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{Images: map[detect.Language]Images{detect.Node: tc.images}}.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}
