package lambda

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFunctions_Deps: the Lambda binaries never link SQLite (the local server's adapters), nor the fault
// injection of the durability tests.
func TestFunctions_Deps(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-deps", "-tags", "lambda.norpc", "./functions/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	require.NoError(t, err)
	deps := strings.Fields(string(out))
	require.Contains(t, deps, "github.com/outhook/outhook/shared/aws/awsapp", "the listing covers the functions")
	for _, dep := range deps {
		require.False(t, strings.HasPrefix(dep, "modernc.org/sqlite"), "a function depends on %s", dep)
		require.NotEqual(t, "github.com/outhook/outhook/shared/local/sqlite", dep)
	}

	cmd = exec.Command("go", "list", "-tags", "lambda.norpc", "-f", "{{join .GoFiles \" \"}}", "./shared/aws/awsapp")
	cmd.Dir = "../.."
	out, err = cmd.Output()
	require.NoError(t, err)
	files := strings.Fields(string(out))
	require.Contains(t, files, "nofault.go")
	require.NotContains(t, files, "fault.go", "the crash points are compiled only with -tags faultinject")
}
