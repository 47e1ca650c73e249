package awstest_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/aws/awstest"
)

// helperEnv makes TestHelperProcess act: it is this test binary run again as a child by the tests below.
const helperEnv = "OUTHOOK_AWSTEST_HELPER"

// TestHelperProcess is not a test of its own: run as a child, it gets an endpoint, prints it and waits.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		return
	}
	fmt.Println("endpoint", awstest.Endpoint(t))
	time.Sleep(time.Minute)
}

// helper returns the command running TestHelperProcess in a child; under -short it skips the test, like
// every test that would start moto_server.
func helper(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	if testing.Short() {
		t.Skip("starts moto_server in a child process: skipped under -short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=1", "AWS_ENDPOINT_URL="}, env...)...)
	return cmd
}

func TestEndpoint_FailsWithoutMoto(t *testing.T) {
	t.Parallel()
	out, err := helper(t, "OUTHOOK_VENV=/nonexistent/venv").CombinedOutput()
	require.Error(t, err, "the test fails, it is not skipped")
	require.Contains(t, string(out), "moto_server not found at /nonexistent/venv/bin/moto_server: run `make venv` (or `make test`), or set AWS_ENDPOINT_URL")
	require.Contains(t, string(out), "--- FAIL: TestHelperProcess")
}

func TestEndpoint_MotoDiesWithTheProcess(t *testing.T) {
	t.Parallel()
	cmd := helper(t)
	if os.Getenv("AWS_ENDPOINT_URL") != "" {
		t.Log("AWS_ENDPOINT_URL is set: no moto_server is started, nothing to stop")
		return
	}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var url string
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "endpoint "); ok {
			url = rest
			break
		}
	}
	require.NotEmpty(t, url, "the child started moto_server")
	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	resp.Body.Close()

	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no cleanup code runs in the child
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	}, 10*time.Second, 100*time.Millisecond, "moto_server stops when the test process dies")
}
