package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rainflow/rainflow/contract"
)

// TestOperationKindsListed: the kind filter of the operation lists knows every kind of operation
// package contract declares.
func TestOperationKindsListed(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "contract", "*.go"))
	require.NoError(t, err)
	kinds := operationKinds()
	found := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "OperationKind" {
				return true
			}
			for i, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok {
					continue
				}
				kind, err := strconv.Unquote(lit.Value)
				require.NoError(t, err)
				found++
				if !slices.Contains(kinds, contract.OperationKind(kind)) {
					t.Errorf("operation kind %q (contract.%s in %s) is not in operationKinds (api/operations.go): add it, "+
						"so that the operation lists can filter by it", kind, vs.Names[i].Name, name)
				}
			}
			return true
		})
	}
	require.Greater(t, found, 5)
}
