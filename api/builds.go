package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/store"
)

// Builds (contract/build.go): POST .../components/{component}/builds starts a Build operation, from
//
//   - an archive, the request body itself (Content-Type application/gzip, application/x-tar or
//     application/zip), with the settings as query parameters (name, dir, builder, dockerfile,
//     target, deploy=true, timeoutSeconds); the API keeps it in the platform's registry for the build;
//   - an image to import, a JSON body {"source": {"image": "..."}, "deploy": {...}};
//   - a git repository, a JSON body {"source": {"git": {"url": "...", "ref": "..."}}, "settings": {...},
//     "deploy": {...}}: the build resolves the ref (default: the default branch) to its commit.
//
// It answers 202 with the operation; the build runs on the builds task queue, not in the component's
// queue, so a build never waits for a deploy. With deploy, the build then deploys what it built
// through the component's queue (an operation of its own, recorded now).

// buildRequest is the JSON body of a build.
type buildRequest struct {
	Source   buildSourceRequest     `json:"source"`
	Settings contract.BuildSettings `json:"settings"`
	// Deploy, when present, deploys the built image once it is built, with these options.
	Deploy         *deployRequest `json:"deploy"`
	TimeoutSeconds *int32         `json:"timeoutSeconds"`
	// KeepVersions is how many of the component's newest versions the build keeps, deleting older
	// ones no release ran (default contract.DefaultKeepVersions; 0 keeps every version).
	KeepVersions *int32 `json:"keepVersions"`
}

// buildSourceRequest is a JSON build's source: an image to import or a git repository, exactly one.
type buildSourceRequest struct {
	Image string            `json:"image"`
	Git   *gitSourceRequest `json:"git"`
	// Credential names the tenant's registry credential to read the image with (credentials.go).
	Credential string `json:"credential"`
}

// gitSourceRequest is a git repository at a branch, tag or commit.
type gitSourceRequest struct {
	URL string `json:"url"` // https://host/path, ssh://user@host/path or user@host:path
	Ref string `json:"ref"` // a branch, tag, full ref name or commit; "" the default branch
	// Credential names the tenant's git-token (https) or git-ssh (ssh) credential (credentials.go).
	Credential string `json:"credential"`
}

// Build limits.
const (
	maxBuildTimeoutSeconds = 6 * 3600
	maxKeepVersions        = 1000
	maxBuildArgs           = 64
	// DefaultMaxArchiveBytes bounds an uploaded source archive.
	DefaultMaxArchiveBytes = 256 << 20
)

var (
	buildArgName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	dockerfileStep = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// archiveFormats are the archive media types a build takes, and the format each is.
var archiveFormats = map[string]string{
	"application/gzip": "tar.gz", "application/x-gzip": "tar.gz", "application/x-tar": "tar", "application/zip": "zip",
}

func (s *Server) createBuild(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	key := r.Header.Get(idempotencyKeyHeader)
	if key != "" {
		if p := validateIdempotencyKey(key); p != nil {
			return p
		}
		existing, found, err := s.operationByKey(ctx, t, c, contract.OperationBuild, key)
		if err != nil {
			return err
		}
		if found && s.answerStarted(ctx, w, t, existing) {
			return nil
		}
		if found { // recorded, never started: a new try starts afresh
			s.forgetOperation(ctx, existing)
		}
	}
	if s.cfg.Registry == "" {
		return &Problem{Type: typeBuildsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: "no registry is configured for builds (--registry): nothing can be built"}
	}
	ref := contract.ComponentRef{Tenant: t.Name, App: a.Name, Component: c.Name}
	in := contract.BuildInput{Ref: ref, ComponentID: c.ID, Repository: s.cfg.Registry + "/" + t.Name + "/" + a.Name + "/" + c.Name}
	var archive []byte
	var deploy *deployRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if format, ok := archiveFormats[mt]; ok {
		if archive, err = s.readArchive(w, r); err != nil {
			return err
		}
		if in.Settings, deploy, in.Timeout, err = buildQuery(r); err != nil {
			return err
		}
		if in.KeepVersions, err = keepVersionsQuery(r); err != nil {
			return err
		}
		in.Source = contract.BuildSource{Kind: contract.SourceArchive, ArchiveFormat: format,
			ArchiveName: cutString(r.URL.Query().Get("name"), 255)}
		if in.Source.ArchiveName == "" {
			in.Source.ArchiveName = "source." + format
		}
	} else {
		var req buildRequest
		if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
			return err
		}
		if err := req.validate(); err != nil {
			return err
		}
		in.Source = contract.BuildSource{Kind: contract.SourceImage, Image: req.Source.Image}
		if g := req.Source.Git; g != nil {
			in.Source = contract.BuildSource{Kind: contract.SourceGit, GitURL: g.URL, GitRef: g.Ref}
		}
		if in.Source.Credential, err = s.buildCredential(ctx, t, req.Source); err != nil {
			return err
		}
		in.Settings, deploy = req.Settings, req.Deploy
		if req.TimeoutSeconds != nil {
			in.Timeout = time.Duration(*req.TimeoutSeconds) * time.Second
		}
		if req.KeepVersions != nil {
			keep := int(*req.KeepVersions)
			in.KeepVersions = &keep
		}
	}

	principal, _ := PrincipalFrom(ctx)
	in.RequestedBy = principal.Name
	var deployOp store.Operation
	if deploy != nil {
		if in.Deploy, deployOp, err = s.prepareBuildDeploy(ctx, t, c, ref, deploy, principal.Name); err != nil {
			return err
		}
	}
	id := uuid.NewString()
	op, err := s.store.CreateOperation(ctx, store.Operation{
		ID: id, TenantID: t.ID, ComponentID: c.ID, Kind: contract.OperationBuild,
		WorkflowID: contract.BuildWorkflowID(ref, id), IdempotencyKey: key, RequestedBy: principal.Name,
	})
	if err != nil {
		s.forgetOperation(ctx, deployOp)
		return fmt.Errorf("record build operation: %w", err)
	}
	in.OperationID = op.ID
	fail := func(p *Problem) error {
		s.forgetOperation(ctx, op)
		s.forgetOperation(ctx, deployOp)
		return p
	}
	if archive != nil {
		if in.Source.Archive, err = s.sources.PushArchive(ctx, in.Repository+"/sources:"+op.ID, archive); err != nil {
			return fail(&Problem{Type: typeRegistryUnavailable, Status: http.StatusServiceUnavailable, RetryAfter: 5,
				Detail: fmt.Sprintf("store the uploaded archive in the registry: %v", err)})
		}
	}
	runID, err := s.wf.StartBuild(ctx, in)
	if err != nil {
		return fail(&Problem{Type: typeWorkflowsUnavailable, Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("start the build of component %q: %v", c.Name, err)})
	}
	if err := s.store.SetOperationRunID(ctx, op.ID, runID); err != nil {
		return fmt.Errorf("record run %s of build %s: %w", runID, op.ID, err)
	}
	op.RunID = runID
	s.logger.InfoContext(ctx, "started build", "tenant", t.Name, "app", a.Name, "component", c.Name, "operation_id", op.ID,
		"source", in.Source.Kind, "deploy", deployOp.ID, "principal", principal.Name, "request_id", RequestIDFrom(ctx))
	noteOperation(ctx, op.ID)
	s.acceptOperation(w, t, op, nil)
	w.Header().Del("Idempotent-Replayed")
	return nil
}

// readArchive reads an uploaded archive, at most MaxArchiveBytes.
func (s *Server) readArchive(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxArchiveBytes
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, &Problem{Type: typeBodyTooLarge, Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("the archive is larger than %d bytes", tooLarge.Limit)}
	case err != nil:
		return nil, malformed("read the archive: " + err.Error())
	case len(body) == 0:
		return nil, malformed("the request body is empty; send the source archive")
	}
	if !looksLikeArchive(body) {
		return nil, &Problem{Type: typeValidation, Status: http.StatusUnprocessableEntity,
			Detail: "the body is not a tar, tar.gz or zip archive", Errors: []FieldError{{Field: "body", Reason: "not an archive"}}}
	}
	return body, nil
}

// looksLikeArchive checks an archive's magic numbers: gzip, zip, or a tar header's "ustar".
func looksLikeArchive(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}), bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return true
	case len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar")):
		return true
	}
	return false
}

// buildQuery reads an archive build's settings from its query parameters.
func buildQuery(r *http.Request) (contract.BuildSettings, *deployRequest, time.Duration, error) {
	q := r.URL.Query()
	settings := contract.BuildSettings{Dir: q.Get("dir"), Builder: q.Get("builder"), Dockerfile: q.Get("dockerfile"), Target: q.Get("target")}
	var errs []FieldError
	errs = append(errs, validateBuildSettings(settings, "")...)
	var deploy *deployRequest
	switch v := q.Get("deploy"); v {
	case "", "false":
	case "true":
		deploy = &deployRequest{}
	default:
		errs = append(errs, FieldError{Field: "deploy", Reason: fmt.Sprintf("%q is not true or false", v)})
	}
	var timeout time.Duration
	if v := q.Get("timeoutSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxBuildTimeoutSeconds {
			errs = append(errs, FieldError{Field: "timeoutSeconds", Reason: fmt.Sprintf("must be a number from 1 to %d", maxBuildTimeoutSeconds)})
		}
		timeout = time.Duration(n) * time.Second
	}
	if len(errs) > 0 {
		return settings, nil, 0, validationProblem("build request", errs)
	}
	return settings, deploy, timeout, nil
}

// keepVersionsQuery reads an archive build's keepVersions query parameter; absent answers nil (the
// default retention).
func keepVersionsQuery(r *http.Request) (*int, error) {
	v := r.URL.Query().Get("keepVersions")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxKeepVersions {
		return nil, validationProblem("build request", []FieldError{{Field: "keepVersions",
			Reason: fmt.Sprintf("must be a number from 0 to %d", maxKeepVersions)}})
	}
	return &n, nil
}

func (req *buildRequest) validate() error {
	var errs []FieldError
	switch {
	case req.Source.Git != nil && req.Source.Image != "":
		errs = append(errs, FieldError{Field: "source", Reason: "give either image or git, not both"})
	case req.Source.Git != nil:
		errs = append(errs, validateGitSource(*req.Source.Git)...)
		errs = append(errs, validateBuildSettings(req.Settings, "settings.")...)
	default:
		var fe fieldErrors
		validateImage(&fe, "source.image", req.Source.Image)
		errs = fe
		if req.Settings.Builder != "" || req.Settings.Dir != "" || req.Settings.Dockerfile != "" || req.Settings.Target != "" || len(req.Settings.BuildArgs) > 0 {
			errs = append(errs, FieldError{Field: "settings", Reason: "an imported image is copied as it is: it takes no build settings"})
		}
	}
	if t := req.TimeoutSeconds; t != nil && (*t < 1 || *t > maxBuildTimeoutSeconds) {
		errs = append(errs, FieldError{Field: "timeoutSeconds", Reason: fmt.Sprintf("must be from 1 to %d", maxBuildTimeoutSeconds)})
	}
	if k := req.KeepVersions; k != nil && (*k < 0 || *k > maxKeepVersions) {
		errs = append(errs, FieldError{Field: "keepVersions", Reason: fmt.Sprintf("must be from 0 to %d", maxKeepVersions)})
	}
	if req.Deploy != nil {
		if err := req.Deploy.validate(); err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		return validationProblem("build request", errs)
	}
	return nil
}

// validateBuildSettings checks settings that name paths inside the source and a builder.
func validateBuildSettings(s contract.BuildSettings, prefix string) []FieldError {
	var errs []FieldError
	localPath := func(field, p string) {
		// a clean path holds ".." only at its start
		if p != "" && (len(p) > 1024 || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../")) {
			errs = append(errs, FieldError{Field: prefix + field, Reason: "must be a clean relative path inside the source"})
		}
	}
	localPath("dir", s.Dir)
	localPath("dockerfile", s.Dockerfile)
	switch s.Builder {
	case "", contract.BuilderDockerfile, contract.BuilderKo, contract.BuilderGenerated:
	default:
		errs = append(errs, FieldError{Field: prefix + "builder", Reason: fmt.Sprintf("%q is not %s, %s or %s",
			s.Builder, contract.BuilderDockerfile, contract.BuilderKo, contract.BuilderGenerated)})
	}
	if s.Target != "" && !dockerfileStep.MatchString(s.Target) {
		errs = append(errs, FieldError{Field: prefix + "target", Reason: "must be a Dockerfile stage name"})
	}
	if len(s.BuildArgs) > maxBuildArgs {
		errs = append(errs, FieldError{Field: prefix + "buildArgs", Reason: fmt.Sprintf("at most %d", maxBuildArgs)})
	}
	for k, v := range s.BuildArgs {
		if !buildArgName.MatchString(k) || len(v) > 4096 {
			errs = append(errs, FieldError{Field: prefix + "buildArgs." + k, Reason: "names are letters, digits and '_' (not first), values at most 4096 bytes"})
		}
	}
	return errs
}

// prepareBuildDeploy checks that the component can be deployed (its dependencies, secret env and
// routes, as a deploy does, but not its image: the build makes it), and records the deploy operation
// the build will queue.
func (s *Server) prepareBuildDeploy(ctx context.Context, t store.Tenant, c store.Component, ref contract.ComponentRef,
	req *deployRequest, principal string) (*contract.DeployInput, store.Operation, error) {
	deps, err := s.dependenciesOf(ctx, c, c.Spec)
	if err != nil {
		return nil, store.Operation{}, err
	}
	secretEnv, err := s.secretEnvForDeploy(ctx, c, c.Spec)
	if err != nil {
		return nil, store.Operation{}, err
	}
	routes, err := s.routesForDeploy(ctx, c, c.Spec)
	if err != nil {
		return nil, store.Operation{}, err
	}
	id := uuid.NewString()
	op, err := s.store.CreateOperation(ctx, store.Operation{
		ID: id, TenantID: t.ID, ComponentID: c.ID, Kind: contract.OperationDeploy,
		WorkflowID: contract.OperationWorkflowID(contract.OperationDeploy, ref, id), RequestedBy: principal,
	})
	if err != nil {
		return nil, store.Operation{}, fmt.Errorf("record the deploy of the build: %w", err)
	}
	return &contract.DeployInput{OperationID: id, Ref: ref, ComponentID: c.ID, Spec: c.Spec, RequestedBy: principal,
		NoRollback: req.NoRollback, RolloutTimeoutSeconds: req.timeout(), Dependencies: deps, SecretEnvVersion: secretEnv,
		Routes: routes}, op, nil
}

func cutString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
