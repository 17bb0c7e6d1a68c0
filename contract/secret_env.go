package contract

import "strings"

// Secret env: a component's secret environment variables live outside its spec, in versioned,
// immutable sets sealed in the store (AES-256-GCM, package seal). Everything that crosses Temporal
// (workflow inputs, activity inputs and results, heartbeats, errors) carries only a version number
// (DeployInput.SecretEnvVersion, a release's secret env version); the Apply activity opens that
// version from the store itself and writes the values into the component's Kubernetes Secret only.

// Bounds of a component's secret env, checked by the API and again by rendering.
const (
	// MaxSecretEnvVars bounds how many secret variables a component has.
	MaxSecretEnvVars = 256
	// MaxSecretEnvValueBytes bounds one value.
	MaxSecretEnvValueBytes = 64 << 10
	// MaxSecretEnvBytes bounds the names and values together: half of what a Kubernetes Secret holds
	// (1 MiB), which also stays well inside what a process's environment may hold at exec.
	MaxSecretEnvBytes = 512 << 10
	// MaxSecretEnvNameLength bounds a name (a Secret's key may have 253 characters).
	MaxSecretEnvNameLength = 253
)

// SecretEnvBytes is the size secret env counts against MaxSecretEnvBytes: its names and values.
func SecretEnvBytes(env map[string]string) int {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	return n
}

// EnvName is s upper-cased with every character but letters and digits as "_", and a leading "_"
// before a digit: "order-db" becomes ORDER_DB. It names the variables of a dependency.
func EnvName(s string) string {
	var b strings.Builder
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for _, c := range strings.ToUpper(s) {
		if (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// IsDependencyEnvName tells whether name is, or may become as the dependency's ports change, one of
// the variables that tell a component where its dependency dep listens: <DEP>_HOST, <DEP>_PORT and
// <DEP>_PORT_<PORT NAME>.
func IsDependencyEnvName(dep, name string) bool {
	prefix := EnvName(dep)
	return name == prefix+"_HOST" || name == prefix+"_PORT" || strings.HasPrefix(name, prefix+"_PORT_")
}
