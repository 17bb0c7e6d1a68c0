// Package contract holds the names and the input/result types that the API and the workers share, so that
// the API starts workflows by name and never imports the activities or the workflows' implementation.
// It is a leaf: it imports nothing of the project.
package contract

import "time"

// Version is the build's version, set with -ldflags at build time.
var Version = "dev"

// Task queues.
const (
	// TaskQueueOperations carries lifecycle workflows (deploy, upgrade, rollback, scale, ...) and their activities.
	TaskQueueOperations = "rainflow-operations"
	// TaskQueueBuilds carries build workflows, so heavy builds scale apart from deploys.
	TaskQueueBuilds = "rainflow-builds"
)

// Workflow type names, as registered by the worker and started by the API.
const (
	WorkflowDeploy = "Deploy"
)

// Query names.
const (
	// QueryProgress answers with an OperationProgress.
	QueryProgress = "progress"
)

// Search attributes the workflows carry, registered on the namespace by temporal-config, so that an
// operation is found in the Temporal Web UI by tenant, app, component and operation kind.
const (
	SearchAttributeTenant    = "RainflowTenant"
	SearchAttributeApp       = "RainflowApp"
	SearchAttributeComponent = "RainflowComponent"
	SearchAttributeOperation = "RainflowOperation"
)

// OperationKind names what an operation does.
type OperationKind string

const (
	OperationDeploy OperationKind = "deploy"
)

// Labels and the field manager the rendered objects carry.
const (
	FieldManager = "rainflow"

	LabelTenant    = "rainflow.io/tenant"
	LabelApp       = "rainflow.io/app"
	LabelComponent = "rainflow.io/component"
	LabelRelease   = "rainflow.io/release"
)

// ComponentWorkflowID is the workflow id every operation on one component runs under. Temporal allows one
// running workflow per id, so a second operation on a busy component is refused at start (the API answers
// 409 with the running operation) instead of racing it; each operation is one run of this id.
func ComponentWorkflowID(ref ComponentRef) string {
	return "rainflow/" + ref.Tenant + "/" + ref.App + "/" + ref.Component
}

// Port is one port a component listens on.
type Port struct {
	Name     string `json:"name"`
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"` // TCP or UDP
}

// Probe is an HTTP GET or TCP readiness/liveness check.
type Probe struct {
	HTTPPath         string `json:"httpPath,omitempty"` // HTTP GET when set, TCP connect otherwise
	Port             int32  `json:"port"`
	PeriodSeconds    int32  `json:"periodSeconds,omitempty"`
	FailureThreshold int32  `json:"failureThreshold,omitempty"`
}

// EnvVar is one plain environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Resources are the CPU and memory a container requests and may use, in Kubernetes quantity notation.
type Resources struct {
	CPURequest    string `json:"cpuRequest,omitempty"`
	CPULimit      string `json:"cpuLimit,omitempty"`
	MemoryRequest string `json:"memoryRequest,omitempty"`
	MemoryLimit   string `json:"memoryLimit,omitempty"`
}

// ComponentSpec is the desired state of a component, as the API validated and stored it.
type ComponentSpec struct {
	Image        string            `json:"image"` // repository[:tag] or repository@digest in a registry
	Replicas     int32             `json:"replicas"`
	Ports        []Port            `json:"ports,omitempty"`
	Env          []EnvVar          `json:"env,omitempty"`
	Command      []string          `json:"command,omitempty"`
	Args         []string          `json:"args,omitempty"`
	Resources    Resources         `json:"resources,omitempty"`
	Readiness    *Probe            `json:"readiness,omitempty"`
	Liveness     *Probe            `json:"liveness,omitempty"`
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// StopGraceSeconds is how long a stopping container gets between SIGTERM and SIGKILL (Kubernetes'
	// terminationGracePeriodSeconds); nil keeps Kubernetes' default of 30 s.
	StopGraceSeconds *int64 `json:"stopGraceSeconds,omitempty"`
	// StartupProbe holds the readiness and liveness probes back until it passes once, for components
	// that start slowly.
	StartupProbe *Probe `json:"startup,omitempty"`
	// Stateful runs the component as a StatefulSet with a headless Service (stable pod names and DNS,
	// one volume per pod) instead of a Deployment.
	Stateful bool `json:"stateful,omitempty"`
	// ConfigFiles are mounted read-only, each at its path, from the component's ConfigMap; changing
	// one rolls the pods.
	ConfigFiles []ConfigFile `json:"configFiles,omitempty"`
	// Volumes are persistent storage: one PersistentVolumeClaim per volume for a stateless component,
	// one per volume and pod (volumeClaimTemplates) for a stateful one. Deleting the component keeps
	// them unless the delete asks otherwise.
	Volumes []Volume `json:"volumes,omitempty"`
	// Autoscaling, when set, hands the replicas to a HorizontalPodAutoscaler: Replicas is then ignored.
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`
	// DependsOn names components of the same app this one uses: each one's host and ports are injected
	// as environment variables (<DEP>_HOST, <DEP>_PORT, <DEP>_PORT_<PORT NAME>), and app-level
	// operations start it after them.
	DependsOn []string `json:"dependsOn,omitempty"`
}

// ConfigFile is a file mounted into the component's containers.
type ConfigFile struct {
	Path    string `json:"path"` // absolute and clean, e.g. /etc/app/config.yaml
	Content string `json:"content"`
}

// Access modes of a volume.
const (
	// AccessReadWriteOnce: the volume is mounted by the pods of one node at a time.
	AccessReadWriteOnce = "ReadWriteOnce"
	// AccessReadWriteMany: the volume is mounted by pods on any number of nodes.
	AccessReadWriteMany = "ReadWriteMany"
)

// Volume is persistent storage mounted at Path.
type Volume struct {
	Name         string `json:"name"`                   // a DNS label, unique in the component
	Path         string `json:"path"`                   // absolute and clean
	Size         string `json:"size"`                   // a Kubernetes quantity, e.g. 1Gi
	AccessMode   string `json:"accessMode,omitempty"`   // AccessReadWriteOnce (the default) or AccessReadWriteMany
	StorageClass string `json:"storageClass,omitempty"` // the cluster's default class when empty
}

// Autoscaling bounds a HorizontalPodAutoscaler that follows the pods' CPU use.
type Autoscaling struct {
	MinReplicas int32 `json:"minReplicas"`
	MaxReplicas int32 `json:"maxReplicas"`
	// CPUUtilizationPercent is the average CPU use, in percent of the CPU request, the autoscaler keeps
	// the pods at; 0 means DefaultCPUUtilizationPercent.
	CPUUtilizationPercent int32 `json:"cpuUtilizationPercent,omitempty"`
}

// DefaultCPUUtilizationPercent is the CPU use an autoscaler aims at when the spec does not say.
const DefaultCPUUtilizationPercent = 80

// Dependency is a component another one depends on, as rendering needs it: its name in the same app
// and the ports its Service exposes.
type Dependency struct {
	Component string `json:"component"`
	Ports     []Port `json:"ports,omitempty"`
}

// TenantQuota bounds what a tenant's namespace may use in total (a ResourceQuota); empty fields are
// not bounded. Quantities are in Kubernetes notation.
type TenantQuota struct {
	CPURequests    string `json:"cpuRequests,omitempty"`
	CPULimits      string `json:"cpuLimits,omitempty"`
	MemoryRequests string `json:"memoryRequests,omitempty"`
	MemoryLimits   string `json:"memoryLimits,omitempty"`
	Storage        string `json:"storage,omitempty"` // total requested by the namespace's volumes
	Pods           int32  `json:"pods,omitempty"`
	Volumes        int32  `json:"volumes,omitempty"` // PersistentVolumeClaims
}

// ComponentRef names a component the way every layer names it.
type ComponentRef struct {
	Tenant    string `json:"tenant"` // also the Kubernetes namespace
	App       string `json:"app"`
	Component string `json:"component"`
}

// DeployInput starts a Deploy workflow: roll the component out to Spec.
type DeployInput struct {
	OperationID string        `json:"operationId"`
	Ref         ComponentRef  `json:"ref"`
	ComponentID string        `json:"componentId"` // the store's id, for recording the release
	Spec        ComponentSpec `json:"spec"`
	RequestedBy string        `json:"requestedBy,omitempty"`
	// SecretEnvVersion is the version of the component's secret env the deploy runs (0: none): its
	// number only, never its values, which the apply reads from the store (see secret_env.go).
	SecretEnvVersion int64 `json:"secretEnvVersion,omitempty"`
	// NoRollback keeps a failed upgrade in place instead of going back to the release that ran before.
	NoRollback bool `json:"noRollback,omitempty"`
	// RolloutTimeoutSeconds bounds the wait for the rollout; 0 means DefaultRolloutTimeoutSeconds.
	RolloutTimeoutSeconds int32 `json:"rolloutTimeoutSeconds,omitempty"`
	// Dependencies are the components of Spec.DependsOn with their ports, for the environment
	// variables that tell the component where they are.
	Dependencies []Dependency `json:"dependencies,omitempty"`
	// Routes are the component's routes (contract/routes.go) the deploy applies and records with the
	// release; a rollback's are the release's.
	Routes []Route `json:"routes,omitempty"`
}

// DefaultRolloutTimeoutSeconds is how long a rollout may take before the operation fails (and an
// upgrade goes back to the previous release).
const DefaultRolloutTimeoutSeconds = 300

// DeployResult is what a finished Deploy reports.
type DeployResult struct {
	ReleaseID   string `json:"releaseId"`
	ImageDigest string `json:"imageDigest"` // the image the release runs, repository@sha256:...
	Workload    string `json:"workload"`    // Deployment name
}

// Step states.
const (
	StepPending   = "pending"
	StepRunning   = "running"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
)

// Step is one step of an operation, as the progress query reports it.
type Step struct {
	Name     string     `json:"name"`
	State    string     `json:"state"`
	Started  *time.Time `json:"started,omitempty"`
	Finished *time.Time `json:"finished,omitempty"`
	Detail   string     `json:"detail,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// OperationProgress is the answer of QueryProgress.
type OperationProgress struct {
	Kind  OperationKind `json:"kind"`
	Steps []Step        `json:"steps"`
}
