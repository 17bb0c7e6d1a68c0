// Package temporalconfig holds how Rainflow sets up Temporal: the dev server's flags for the embedded
// default, and the namespace and search attributes every Temporal that runs Rainflow needs.
package temporalconfig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/rainflow/rainflow/contract"
)

// SearchAttributes are the custom search attributes Rainflow's workflows carry.
var SearchAttributes = map[string]enums.IndexedValueType{
	contract.SearchAttributeTenant:    enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttributeApp:       enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttributeComponent: enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttributeOperation: enums.INDEXED_VALUE_TYPE_KEYWORD,
	contract.SearchAttributeInitiator: enums.INDEXED_VALUE_TYPE_KEYWORD,
}

// DevServer describes one Temporal dev server of the embedded default.
type DevServer struct {
	DBFile    string // persisted state; empty keeps it in memory
	IP        string
	Port      int
	UIPort    int
	Namespace string
	LogLevel  string
}

// Args are the `temporal server start-dev` arguments for s. Without
// history.transferProcessorMaxPollRPS raised, every task hand-off on the one-shard dev server waits ~45 ms.
func (s DevServer) Args() []string {
	args := []string{"server", "start-dev",
		"--ip", s.IP,
		"--port", fmt.Sprint(s.Port),
		"--ui-port", fmt.Sprint(s.UIPort),
		"--namespace", s.Namespace,
		"--log-level", s.LogLevel,
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=100000",
		"--dynamic-config-value", "frontend.enableUpdateWorkflowExecution=true",
		// the dev server otherwise calls a Temporal server on the internet to check for new versions
		"--dynamic-config-value", "frontend.enableServerVersionCheck=false",
		// One partition per task queue: the default four make a one-shard server with a few pollers forward
		// tasks and polls between partitions; one took a no-op deploy's dev server CPU from 33.8 to 23.5–26.6
		// ms and BenchmarkOrchestration from 31.8 to 40.3–42.7 deploys/s on an idle 2-core machine.
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
	}
	if s.DBFile != "" {
		// Write-ahead logging halves the dev server's CPU per workflow (measured by BenchmarkOrchestration);
		// a process crash loses nothing, a power loss at most the last commits.
		args = append(args, "--db-filename", s.DBFile,
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal")
	}
	if s.LogLevel == "" {
		args[len(args)-1] = "warn"
	}
	return args
}

// Setup makes sure namespace exists (with retention) and carries Rainflow's search attributes. It is
// idempotent and works against any Temporal, the dev server included.
func Setup(ctx context.Context, c client.Client, namespace string) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	var notFound *serviceerror.NamespaceNotFound
	if errors.As(err, &notFound) {
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(30 * 24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("register namespace %s: %w", namespace, err)
		}
	} else if err != nil {
		return fmt.Errorf("describe namespace %s: %w", namespace, err)
	}

	have, err := listSearchAttributes(ctx, c, namespace)
	if err != nil {
		return err
	}
	missing := map[string]enums.IndexedValueType{}
	for name, typ := range SearchAttributes {
		if _, ok := have.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("add search attributes: %w", err)
	}
	return nil
}

// listSearchAttributes lists the namespace's search attributes. A namespace registered a moment ago is
// not found until the servers' namespace caches refresh (a few seconds), so not-found is retried for
// up to 30 seconds.
func listSearchAttributes(ctx context.Context, c client.Client, namespace string) (*operatorservice.ListSearchAttributesResponse, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		var notFound *serviceerror.NamespaceNotFound
		var nf *serviceerror.NotFound
		if err == nil || !(errors.As(err, &notFound) || errors.As(err, &nf)) || time.Now().After(deadline) {
			if err != nil {
				return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, err)
			}
			return resp, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("list search attributes of namespace %s: %w", namespace, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
