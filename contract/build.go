package contract

import "time"

// A build turns a component's source into an image in the platform's registry and records it as a
// version of the component: an uploaded archive or a git revision built by the builder detection picks
// (or the one the request names), or an image copied from another registry. It runs on its own task
// queue (TaskQueueBuilds) under BuildWorkflowID, apart from the component's queue: builds never wait
// for a deploy, and several may run at once. Asked to, it deploys what it built as a deploy operation
// queued in the component's queue, and waits for it: build-and-deploy is one durable run.

// WorkflowBuild names the build workflow.
const WorkflowBuild = "Build"

// OperationBuild is the kind of a build operation.
const OperationBuild OperationKind = "build"

// BuildWorkflowID is the workflow id of a build: "build/<tenant>/<app>/<component>/<id>", an
// operation workflow id like every other (ParseOperationWorkflowID reads it).
func BuildWorkflowID(ref ComponentRef, operationID string) string {
	return OperationWorkflowID(OperationBuild, ref, operationID)
}

// Source kinds of a build.
const (
	SourceArchive = "archive" // an archive uploaded through the API (tar, tar.gz or zip)
	SourceGit     = "git"     // a git repository at a branch, tag or commit
	SourceImage   = "image"   // an image copied from another registry
)

// Builders (build/detect names the first three as well).
const (
	BuilderDockerfile = "dockerfile" // the source's Dockerfile, on BuildKit
	BuilderKo         = "ko"         // go build, the binary appended onto a base image (no daemon)
	BuilderGenerated  = "generated"  // a Dockerfile generated from what detection found, on BuildKit
	BuilderImport     = "import"     // an image copied as it is
)

// DefaultBuildTimeout bounds a build when the request does not.
const DefaultBuildTimeout = 60 * time.Minute

// BuildSource is where a build's input comes from: exactly one of its parts.
type BuildSource struct {
	Kind string `json:"kind"` // SourceArchive, SourceGit or SourceImage
	// Archive is the uploaded archive as the API stored it: an OCI artifact in the platform's registry
	// (repository@sha256:...), one layer holding the archive's bytes.
	Archive string `json:"archive,omitempty"`
	// ArchiveName is the name the archive was uploaded with (for the version's source), and its format.
	ArchiveName   string `json:"archiveName,omitempty"`
	ArchiveFormat string `json:"archiveFormat,omitempty"` // tar, tar.gz or zip
	// GitURL and GitRef: an https or ssh URL, and a branch, tag or commit (default: the default branch).
	GitURL string `json:"gitUrl,omitempty"`
	GitRef string `json:"gitRef,omitempty"`
	// Image is the image to copy (registry/repository:tag or @digest).
	Image string `json:"image,omitempty"`
	// Credential names the tenant's source credential to read the repository or the registry with;
	// nil reads anonymously. Only its name travels: the worker opens it from the store.
	Credential *CredentialRef `json:"credential,omitempty"`
}

// CredentialRef names a tenant's source credential (a git token, an SSH key, a registry login).
type CredentialRef struct {
	TenantID string `json:"tenantId"`
	Name     string `json:"name"`
}

// BuildSettings say how to build; the zero value lets detection decide. Two builds of one source
// revision with equal settings make the same version, so the second returns the first's at once.
type BuildSettings struct {
	// Builder forces a builder; "" lets detection choose.
	Builder string `json:"builder,omitempty"`
	// Dir is the source subdirectory to build (a component of a repository of several); "" the root.
	Dir string `json:"dir,omitempty"`
	// Dockerfile is the Dockerfile's path inside Dir; default "Dockerfile".
	Dockerfile string `json:"dockerfile,omitempty"`
	// BuildArgs are the Dockerfile's build arguments.
	BuildArgs map[string]string `json:"buildArgs,omitempty"`
	// Target is the Dockerfile stage to build; "" the last.
	Target string `json:"target,omitempty"`
}

// BuildInput starts a Build workflow.
type BuildInput struct {
	OperationID string        `json:"operationId"`
	Ref         ComponentRef  `json:"ref"`
	ComponentID string        `json:"componentId"`
	Source      BuildSource   `json:"source"`
	Settings    BuildSettings `json:"settings"`
	// Repository is where the built image goes: registry/tenant/app/component (the API derives it).
	Repository string `json:"repository"`
	// Deploy, when set, is the deploy to run once the image is built, as the API prepared it from the
	// component (its spec, secret env version, dependencies, routes): the build sets its spec's image to
	// the built one, makes that the component's image in the store, queues the deploy in the
	// component's queue and waits for it.
	Deploy      *DeployInput  `json:"deploy,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"` // default DefaultBuildTimeout
	RequestedBy string        `json:"requestedBy,omitempty"`
	// KeepVersions is how many of the component's newest versions retention keeps once the build
	// recorded its own: older ones that no release ran and the component does not run are deleted,
	// image and record. nil keeps DefaultKeepVersions; 0 turns retention off for this build.
	KeepVersions *int `json:"keepVersions,omitempty"`
}

// DefaultKeepVersions is how many versions of a component a build keeps when its input does not say.
const DefaultKeepVersions = 10

// KeepVersionsOrDefault answers how many versions the build keeps (0: it prunes none).
func (in BuildInput) KeepVersionsOrDefault() int {
	if in.KeepVersions == nil {
		return DefaultKeepVersions
	}
	return max(*in.KeepVersions, 0)
}

// BuildResult is what a build made.
type BuildResult struct {
	// Image is the built image by digest (repository@sha256:...).
	Image    string `json:"image"`
	Revision string `json:"revision,omitempty"` // the git commit, the archive's or the source image's digest
	Builder  string `json:"builder"`
	Language string `json:"language,omitempty"`
	// Size is the image's compressed size in bytes (config and layers).
	Size     int64         `json:"size"`
	Duration time.Duration `json:"duration"`
	// Reused says an equal build of the same revision had made this version before: nothing was built.
	Reused bool `json:"reused,omitempty"`
	// DeployOperationID is the deploy it queued, when asked to deploy.
	DeployOperationID string `json:"deployOperationId,omitempty"`
}
