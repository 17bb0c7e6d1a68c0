package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/rainflow/rainflow/contract"
	"github.com/rainflow/rainflow/seal"
	"github.com/rainflow/rainflow/store"
)

// A component's secret env: environment variables whose values are sealed at rest (AES-256-GCM with
// the server's --encryption-keys) and never answered by the API, nor carried by a workflow (see
// contract/secret_env.go).
//
//	GET   .../components/{c}/secret-env   names, version, updatedAt, updatedBy; never values
//	PUT   .../components/{c}/secret-env   {"env": {"NAME": "value", ...}} replaces every variable
//	PATCH .../components/{c}/secret-env   {"set": {"NAME": "value"}, "remove": ["OTHER"]} changes some
//
// Every change that changes something makes a new, immutable version; a change takes effect with the
// component's next deploy (the answer says "appliedBy": "next deploy"), which runs the latest version
// and records it in its release, so that a rollback runs the release's version again. PUT and PATCH
// take an optional If-Match with the ETag a GET answered (the version): without it PUT overwrites
// whatever is there and PATCH applies to the latest version.

// typeNoEncryptionKey: the server was started without --encryption-keys, so it can neither seal nor
// open secret env.
const typeNoEncryptionKey = problemBase + "no-encryption-key"

// secretEnvAppliedBy says when a change of secret env reaches the pods.
const secretEnvAppliedBy = "next deploy"

// secretEnvSetRetries bounds how often a write without If-Match is retried when another write took
// the next version first.
const secretEnvSetRetries = 3

type secretEnvView struct {
	Component string     `json:"component"`
	Names     []string   `json:"names"`   // sorted; the values are never answered
	Version   int64      `json:"version"` // 0: no secret env was ever set; also the ETag
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
	UpdatedBy string     `json:"updatedBy,omitempty"`
	// Changed (PUT and PATCH) says whether the request made a new version; a request that changes
	// nothing answers the current one.
	Changed *bool `json:"changed,omitempty"`
	// AppliedBy (PUT and PATCH) says when the change reaches the pods: "next deploy".
	AppliedBy string            `json:"appliedBy,omitempty"`
	Links     map[string]string `json:"links"`
}

// secretEnvSummary is the secret env as a component's GET shows it.
type secretEnvSummary struct {
	Names   []string `json:"names"`
	Version int64    `json:"version"`
}

// putSecretEnvRequest is the body of PUT .../secret-env: every variable, name → value ({} removes all).
type putSecretEnvRequest struct {
	Env map[string]string `json:"env"`
}

// patchSecretEnvRequest is the body of PATCH .../secret-env: variables to set (added or replaced) and
// names to remove (a name not there is no error, so a retried PATCH succeeds).
type patchSecretEnvRequest struct {
	Set    map[string]string `json:"set"`
	Remove []string          `json:"remove"`
}

func newSecretEnvView(t store.Tenant, a store.App, c store.Component, se store.SecretEnv) secretEnvView {
	self := componentPath(t.Name, a.Name, c.Name)
	v := secretEnvView{Component: c.Name, Names: se.Names, Version: se.Version, UpdatedBy: se.CreatedBy,
		Links: map[string]string{"self": self + "/secret-env", "component": self, "deploys": self + "/deploys"}}
	if v.Names == nil {
		v.Names = []string{}
	}
	if se.Version > 0 {
		at := se.CreatedAt
		v.UpdatedAt = &at
	}
	return v
}

func (s *Server) getSecretEnv(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	se, err := s.store.GetSecretEnv(r.Context(), c.ID)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etagOf(se.Version))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, newSecretEnvView(t, a, c, se))
	return nil
}

func (s *Server) putSecretEnv(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	var req putSecretEnvRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	if req.Env == nil {
		errs.add("env", `is required: an object of name → value ({} removes every variable)`)
	}
	validateSecretEnvVars(&errs, "env", req.Env, c.Spec)
	validateSecretEnvTotal(&errs, "env", req.Env)
	if len(errs) > 0 {
		return validationProblem("secret env", errs)
	}
	return s.writeSecretEnv(w, r, t, a, c, func(map[string]string) (map[string]string, error) { return req.Env, nil }, false)
}

func (s *Server) patchSecretEnv(w http.ResponseWriter, r *http.Request) error {
	t, a, c, err := s.componentOf(r)
	if err != nil {
		return err
	}
	var req patchSecretEnvRequest
	if err := decodeJSON(w, r, s.cfg.MaxBodyBytes, &req); err != nil {
		return err
	}
	var errs fieldErrors
	if len(req.Set) == 0 && len(req.Remove) == 0 {
		errs.add("set", "nothing to change: give set, remove or both")
	}
	validateSecretEnvVars(&errs, "set", req.Set, c.Spec)
	for i, name := range req.Remove {
		f := fmt.Sprintf("remove[%d]", i)
		switch _, both := req.Set[name]; {
		case name == "":
			errs.add(f, "is required")
		case both:
			errs.add(f, fmt.Sprintf("%q is in set too: set it or remove it", name))
		}
	}
	if len(errs) > 0 {
		return validationProblem("secret env change", errs)
	}
	patch := func(current map[string]string) (map[string]string, error) {
		next := maps.Clone(current)
		maps.Copy(next, req.Set)
		for _, name := range req.Remove {
			delete(next, name)
		}
		var errs fieldErrors
		validateSecretEnvTotal(&errs, "set", next)
		if len(errs) > 0 {
			return nil, validationProblem("secret env change", errs)
		}
		return next, nil
	}
	return s.writeSecretEnv(w, r, t, a, c, patch, true)
}

// writeSecretEnv stores what change makes of the latest version's variables as the next version and
// answers it. change reads the latest values only when needsCurrent (a PATCH). A write that loses a
// race to another one is done again on the new latest version, unless the request named its version
// with If-Match: then it answers 412.
func (s *Server) writeSecretEnv(w http.ResponseWriter, r *http.Request, t store.Tenant, a store.App, c store.Component,
	change func(current map[string]string) (map[string]string, error), needsCurrent bool) error {
	ctx := r.Context()
	what := fmt.Sprintf("the secret env of component %q", c.Name)
	ifMatch := r.Header.Get("If-Match")
	principal, _ := PrincipalFrom(ctx)
	for attempt := 1; ; attempt++ {
		cur, err := s.store.GetSecretEnv(ctx, c.ID)
		if err != nil {
			return err
		}
		expected := store.AnyVersion
		if ifMatch != "" {
			if !ifMatches(ifMatch, etagOf(cur.Version)) {
				return preconditionFailed(what, ifMatch, etagOf(cur.Version))
			}
			expected = cur.Version
		}
		current := map[string]string{}
		if needsCurrent {
			if current, err = s.store.OpenSecretEnv(ctx, c.ID, cur.Version); err != nil {
				return secretEnvError(c, err)
			}
			expected = cur.Version // the change is made of this version's values
		}
		next, err := change(current)
		if err != nil {
			return err
		}
		se, changed, err := s.store.SetSecretEnv(ctx, c.ID, expected, next, principal.Name)
		if errors.Is(err, store.ErrConflict) && ifMatch == "" && attempt < secretEnvSetRetries {
			continue
		}
		if errors.Is(err, store.ErrConflict) {
			latest, _ := s.store.GetSecretEnv(ctx, c.ID)
			if ifMatch == "" {
				return &Problem{Type: typePreconditionFailed, Status: http.StatusPreconditionFailed,
					Detail: fmt.Sprintf("%s was changed by other requests %d times while this one was applied (now %s); retry",
						what, secretEnvSetRetries, etagOf(latest.Version))}
			}
			return preconditionFailed(what, ifMatch, etagOf(latest.Version))
		}
		if err != nil {
			return secretEnvError(c, err)
		}
		s.logger.InfoContext(ctx, "set secret env", "tenant", t.Name, "app", a.Name, "component", c.Name,
			"component_id", c.ID, "version", se.Version, "variables", len(se.Names), "changed", changed,
			"principal", principal.Name, "request_id", RequestIDFrom(ctx))
		v := newSecretEnvView(t, a, c, se)
		v.Changed, v.AppliedBy = &changed, secretEnvAppliedBy
		w.Header().Set("ETag", etagOf(se.Version))
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, v)
		return nil
	}
}

// secretEnvError answers the problem of a store error about secret env; no store error holds a value.
func secretEnvError(c store.Component, err error) error {
	switch {
	case errors.Is(err, store.ErrNoKeyring):
		return &Problem{Type: typeNoEncryptionKey, Status: http.StatusServiceUnavailable,
			Detail: "the server has no encryption key configured (--encryption-keys / $RAINFLOW_ENCRYPTION_KEYS), " +
				"so it can neither store nor open secret env; an operator must configure one"}
	case errors.Is(err, seal.ErrUnknownKey), errors.Is(err, seal.ErrCorrupt):
		return &Problem{Type: typeInternal, Status: http.StatusInternalServerError,
			Detail: fmt.Sprintf("the secret env of component %q cannot be opened with the server's encryption keys (%v): "+
				"an operator must configure the key that sealed it", c.Name, err)}
	case errors.Is(err, store.ErrNotFound):
		return notFound("component %q was deleted", c.Name)
	}
	return err
}

// validateSecretEnvVars checks each variable: its name is a C identifier (what Kubernetes requires of
// a Secret's variable and what every shell can read), not a variable the spec sets in env or one that
// tells where a dependency listens; its value fits.
func validateSecretEnvVars(errs *fieldErrors, field string, env map[string]string, spec contract.ComponentSpec) {
	plain := map[string]int{}
	for i, e := range spec.Env {
		plain[e.Name] = i
	}
	for _, name := range slices.Sorted(maps.Keys(env)) {
		f := fmt.Sprintf("%s[%q]", field, name)
		switch {
		case name == "":
			errs.add(f, "a name is required")
			continue
		case len(name) > contract.MaxSecretEnvNameLength:
			errs.add(f, fmt.Sprintf("the name is longer than %d characters", contract.MaxSecretEnvNameLength))
		case len(validation.IsCIdentifier(name)) > 0:
			errs.add(f, "the name must be a C identifier: letters, digits and _, not starting with a digit")
		}
		if i, ok := plain[name]; ok {
			errs.add(f, fmt.Sprintf("is also spec.env[%d]: a variable is either plain or secret; remove it from the spec first", i))
		}
		for _, dep := range spec.DependsOn {
			if contract.IsDependencyEnvName(dep, name) {
				errs.add(f, fmt.Sprintf("is a variable that tells where dependency %q listens (%s_HOST, %s_PORT, %s_PORT_*)",
					dep, contract.EnvName(dep), contract.EnvName(dep), contract.EnvName(dep)))
			}
		}
		if n := len(env[name]); n > contract.MaxSecretEnvValueBytes {
			errs.add(f, fmt.Sprintf("the value is %d bytes, more than %d (64 KiB)", n, contract.MaxSecretEnvValueBytes))
		}
	}
}

// validateSecretEnvTotal checks the variables together: how many, and how large (they share one
// Kubernetes Secret and the process's environment).
func validateSecretEnvTotal(errs *fieldErrors, field string, env map[string]string) {
	if len(env) > contract.MaxSecretEnvVars {
		errs.add(field, fmt.Sprintf("%d variables, more than %d", len(env), contract.MaxSecretEnvVars))
	}
	if n := contract.SecretEnvBytes(env); n > contract.MaxSecretEnvBytes {
		errs.add(field, fmt.Sprintf("the names and values hold %d bytes together, more than %d (512 KiB)", n, contract.MaxSecretEnvBytes))
	}
}

// secretEnvForDeploy answers the secret env version a deploy of the component at spec runs: the
// latest. Its names must still clash with nothing the spec sets (the spec may have changed since the
// secret env did): a clash is a 422 naming both.
func (s *Server) secretEnvForDeploy(ctx context.Context, c store.Component, spec contract.ComponentSpec) (int64, error) {
	se, err := s.store.GetSecretEnv(ctx, c.ID)
	if err != nil {
		return 0, fmt.Errorf("read the secret env of component %q: %w", c.Name, err)
	}
	var errs fieldErrors
	env := make(map[string]string, len(se.Names))
	for _, name := range se.Names {
		env[name] = ""
	}
	validateSecretEnvVars(&errs, "secretEnv", env, spec)
	if len(errs) > 0 {
		p := validationProblem(fmt.Sprintf("the secret env of component %q (version %d)", c.Name, se.Version), errs)
		p.Detail += "; change the spec, or the component's secret env (PUT or PATCH .../secret-env)"
		return 0, p
	}
	return se.Version, nil
}

// secretEnvRestore answers what makes the component's secret env the release's again, as a rollback
// makes the release's spec the component's: nil when it already is. It opens the release's values
// now, so that a server without the key refuses the rollback before anything changed.
func (s *Server) secretEnvRestore(ctx context.Context, c store.Component, rel store.Release) (func(ctx context.Context, by string) error, error) {
	latest, err := s.store.GetSecretEnv(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("read the secret env of component %q: %w", c.Name, err)
	}
	if latest.Version == rel.SecretEnvVersion {
		return nil, nil
	}
	values, err := s.store.OpenSecretEnv(ctx, c.ID, rel.SecretEnvVersion)
	if err != nil {
		return nil, secretEnvError(c, err)
	}
	return func(ctx context.Context, by string) error {
		_, _, err := s.store.SetSecretEnv(ctx, c.ID, store.AnyVersion, values, by)
		return err
	}, nil
}
