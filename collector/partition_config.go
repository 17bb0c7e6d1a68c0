package collector

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Partition is the part of Config about several replicas sharing the apps, and about following the
// runtime output of pods. Zero fields take their defaults; the zero Partition is one collector that owns
// every app and follows nothing.
type Partition struct {
	// Self is this replica's member name (the pod name in a cluster). Empty: a single collector that
	// owns every app and forwards nothing.
	Self string
	// Members are the replicas sharing the apps, each "name=url", this one included. With MembersService
	// set they come from the Service's EndpointSlices instead.
	Members []string
	// MembersService is "namespace/name" of the collector Service whose ready endpoints are the members
	// (needs a Kubernetes client: Collector.UseKubernetes). Members are named by their pod.
	MembersService string
	// MembersPort is the API port of the members found through MembersService. Default: Listen's port.
	MembersPort string
	// ForwardTimeout bounds one ingest request forwarded to another member. Default 10s.
	ForwardTimeout time.Duration

	// FollowRuntime follows the output of the pods labelled rainflow.io/component of the apps this
	// replica owns into runtime streams (needs a Kubernetes client: Collector.UseKubernetes).
	FollowRuntime bool
	// FollowNamespace limits following to one namespace. Empty: every namespace.
	FollowNamespace string
	// FollowFlush is how often a followed container's new lines are committed. Default 100ms.
	FollowFlush time.Duration
	// HandoverTimeout bounds how long a new owner of an app waits for the old owner to stop following
	// it and hand over its positions. Default 10s.
	HandoverTimeout time.Duration
}

func (p Partition) withDefaults() Partition {
	if p.ForwardTimeout == 0 {
		p.ForwardTimeout = DefaultForwardTimeout
	}
	if p.FollowFlush == 0 {
		p.FollowFlush = DefaultFollowFlush
	}
	if p.HandoverTimeout == 0 {
		p.HandoverTimeout = DefaultHandoverTimeout
	}
	return p
}

// enabled says whether requests may be forwarded (this replica knows who it is).
func (p Partition) enabled() bool { return p.Self != "" }

// staticMembers parses Members.
func (p Partition) staticMembers() ([]Member, error) {
	var out []Member
	var errs []error
	for _, s := range p.Members {
		m, err := ParseMember(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, m)
	}
	return out, errors.Join(errs...)
}

func (p Partition) validate() error {
	var errs []error
	members, err := p.staticMembers()
	if err != nil {
		errs = append(errs, fmt.Errorf("collector members: %w", err))
	}
	switch {
	case p.Self == "" && (len(p.Members) > 0 || p.MembersService != ""):
		errs = append(errs, errors.New("collector self is empty: a replica sharing apps must know its member name"))
	case p.Self != "" && p.MembersService == "" && err == nil &&
		!slices.ContainsFunc(members, func(m Member) bool { return m.Name == p.Self }):
		errs = append(errs, fmt.Errorf("collector self %q is not one of the members", p.Self))
	}
	if p.MembersService != "" {
		if ns, name, ok := strings.Cut(p.MembersService, "/"); !ok || ns == "" || name == "" {
			errs = append(errs, fmt.Errorf("collector members service %q is not namespace/name", p.MembersService))
		}
		if len(p.Members) > 0 {
			errs = append(errs, errors.New("collector members and members service are both set; use one"))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"forward timeout", p.ForwardTimeout}, {"follow flush", p.FollowFlush}, {"handover timeout", p.HandoverTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("collector %s %s is negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}
