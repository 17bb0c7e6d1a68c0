package contract

import (
	"errors"
	"testing"
)

func TestDependencyLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		deps      []DependencyEdge
		want      [][]string
		wantCycle []string
		wantErr   string
	}{
		{name: "none", deps: nil, want: nil},
		{name: "independent ones share level 0, sorted",
			deps: []DependencyEdge{{Component: "web"}, {Component: "db"}, {Component: "cache"}},
			want: [][]string{{"cache", "db", "web"}}},
		{name: "a chain",
			deps: []DependencyEdge{{Component: "web", DependsOn: []string{"api"}}, {Component: "api", DependsOn: []string{"db"}}, {Component: "db"}},
			want: [][]string{{"db"}, {"api"}, {"web"}}},
		{name: "a diamond waits for its deepest dependency",
			deps: []DependencyEdge{
				{Component: "web", DependsOn: []string{"api", "db"}}, {Component: "api", DependsOn: []string{"db"}},
				{Component: "db"}, {Component: "worker", DependsOn: []string{"db"}},
			},
			want: [][]string{{"db"}, {"api", "worker"}, {"web"}}},
		{name: "a cycle is named",
			deps: []DependencyEdge{
				{Component: "a", DependsOn: []string{"b"}}, {Component: "b", DependsOn: []string{"c"}},
				{Component: "c", DependsOn: []string{"a"}}, {Component: "d"},
			},
			wantCycle: []string{"a", "b", "c", "a"}, wantErr: "the dependencies form a cycle: a → b → c → a"},
		{name: "depending on itself is a cycle",
			deps: []DependencyEdge{{Component: "a", DependsOn: []string{"a"}}}, wantCycle: []string{"a", "a"}},
		{name: "an unknown dependency",
			deps:    []DependencyEdge{{Component: "web", DependsOn: []string{"nope"}}},
			wantErr: `component "web" depends on "nope", which the app does not have`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DependencyLevels(tt.deps)
			if tt.wantErr == "" && tt.wantCycle == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("levels %v, want %v", got, tt.want)
				}
				for i := range got {
					if len(got[i]) != len(tt.want[i]) {
						t.Fatalf("levels %v, want %v", got, tt.want)
					}
					for j := range got[i] {
						if got[i][j] != tt.want[i][j] {
							t.Fatalf("levels %v, want %v", got, tt.want)
						}
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, levels %v", got)
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Fatalf("error %q, want %q", err, tt.wantErr)
			}
			var cycle *CycleError
			if tt.wantCycle != nil {
				if !errors.As(err, &cycle) {
					t.Fatalf("error %v is no CycleError", err)
				}
				if len(cycle.Cycle) != len(tt.wantCycle) {
					t.Fatalf("cycle %v, want %v", cycle.Cycle, tt.wantCycle)
				}
				for i := range cycle.Cycle {
					if cycle.Cycle[i] != tt.wantCycle[i] {
						t.Fatalf("cycle %v, want %v", cycle.Cycle, tt.wantCycle)
					}
				}
			}
		})
	}
}

func TestParseOperationWorkflowID(t *testing.T) {
	ref := ComponentRef{Tenant: "acme", App: "shop", Component: "web"}
	for _, tc := range []struct {
		name string
		id   string
		want OperationName
		ok   bool
	}{
		{name: "component operation", id: OperationWorkflowID(OperationDeploy, ref, "op-1"),
			want: OperationName{Kind: OperationDeploy, Tenant: "acme", App: "shop", Component: "web", ID: "op-1"}, ok: true},
		{name: "app operation", id: AppOperationWorkflowID(OperationRestart, "acme", "shop", "op-2"),
			want: OperationName{Kind: OperationRestart, Tenant: "acme", App: "shop", ID: "op-2"}, ok: true},
		{name: "component queue", id: ComponentWorkflowID(ref)},
		{name: "tenant operation", id: TenantOperationWorkflowID(OperationTenantSetup, "acme", "op-3")},
		{name: "empty part", id: "deploy/acme//web/op-1"},
		{name: "other", id: "something-else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseOperationWorkflowID(tc.id)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("ParseOperationWorkflowID(%q) = %+v, %v; want %+v, %v", tc.id, got, ok, tc.want, tc.ok)
			}
		})
	}
}
