package activities

import "github.com/rainflow/rainflow/contract"

// The build's activity inputs and results (build.go runs them).

// ResolveSourceInput is a build's source.
type ResolveSourceInput struct {
	Source contract.BuildSource `json:"source"`
}

// ResolveSourceResult pins the source: the revision a build of it builds.
type ResolveSourceResult struct {
	// Revision is the git commit, the uploaded archive's digest, or the source image's digest.
	Revision string `json:"revision"`
}

// BuildImageInput is one build: the pinned source, the settings, and where the image goes.
type BuildImageInput struct {
	OperationID string                 `json:"operationId"`
	Ref         contract.ComponentRef  `json:"ref"`
	Source      contract.BuildSource   `json:"source"`
	Revision    string                 `json:"revision"`
	Settings    contract.BuildSettings `json:"settings"`
	// Repository is the platform registry's repository of the component's images.
	Repository string `json:"repository"`
}

// BuildProgress is a build's heartbeat: the phase it is in and its latest output line.
type BuildProgress struct {
	Phase string `json:"phase"` // fetch, detect, build, push
	Line  string `json:"line,omitempty"`
}

// EventMessage is the progress as the operation's event log shows it.
func (p BuildProgress) EventMessage() string { return p.Phase }
