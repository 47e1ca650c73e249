//go:build linux

package lambda

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/syncbuf"
)

// The functions' memory size as deployed (infra's default), used for the cost of their GB-seconds.
const memoryMiB = 256

// Binaries built once per test process, for the host, with the production build flags.
var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Variants of the bootstraps: production tags, or with the crash points of package awsapp compiled in.
const (
	variantProd  = "prod"
	variantFault = "fault"
)

// bootstrap returns the path of function fn's binary of the given variant, building them all on first use.
func bootstrap(t testing.TB, variant, fn string) string {
	t.Helper()
	buildOnce.Do(func() { buildDir, buildErr = buildAll() })
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, variant, fn)
}

func buildAll() (string, error) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	dir, err := os.MkdirTemp("", "outhook-lambda-")
	if err != nil {
		return "", fmt.Errorf("create build dir: %w", err)
	}
	for variant, tags := range map[string]string{variantProd: "lambda.norpc", variantFault: "lambda.norpc,faultinject"} {
		cmd := exec.Command("go", "build", "-tags", tags, "-ldflags", "-s -w", "-trimpath",
			"-o", filepath.Join(dir, variant)+"/", "./functions/send", "./functions/query", "./functions/secrets", "./functions/deliver")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build the %s bootstraps: %w\n%s", variant, err, out)
		}
	}
	return dir, nil
}

// riePath is the emulator `make rie` builds (OUTHOOK_RIE, set by `make test`, or .tools/bin under the module root).
func riePath(t testing.TB) string {
	t.Helper()
	path := os.Getenv("OUTHOOK_RIE")
	if path == "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		require.NoError(t, err)
		path = filepath.Join(root, ".tools", "bin", "aws-lambda-rie")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the AWS Lambda Runtime Interface Emulator is not at %s: run `make rie` (or `make test`), or set OUTHOOK_RIE", path)
	}
	return path
}

// function is one bootstrap running under its own emulator, like one Lambda execution environment.
type function struct {
	name    string
	rieAddr string // the emulator's address
	url     string // the emulator's invocation URL
	cmd     *exec.Cmd
	out     *syncbuf.Buffer // what the emulator and the function print (START/END/REPORT lines, logs)
}

// startFunction runs bin under the emulator with env (plus the Lambda runtime variables) and waits until
// the emulator accepts invocations. The function is stopped when the test ends. The emulator's two ports are
// chosen free, then bound by the emulator: another process may take one in between (tests of other packages
// run at the same time), and then the emulator exits at once; it is started again on other ports.
func startFunction(t testing.TB, name, bin string, env []string) *function {
	t.Helper()
	const tries = 5
	for try := 1; ; try++ {
		f, exited := launch(t, name, bin, env)
		var listening bool
		require.Eventually(t, func() bool {
			select {
			case <-exited:
				return true
			default:
			}
			c, err := net.DialTimeout("tcp", f.rieAddr, 100*time.Millisecond)
			if err != nil {
				return false
			}
			c.Close()
			listening = true
			return true
		}, 10*time.Second, 20*time.Millisecond, "the emulator of %s did not listen on %s", name, f.rieAddr)
		if listening {
			return f
		}
		out := f.out.String()
		require.True(t, strings.Contains(out, "address already in use") && try < tries,
			"the emulator of %s exited before it listened (try %d):\n%s", name, try, out)
		t.Logf("the emulator of %s lost a port before binding it (try %d); starting it again", name, try)
	}
}

// launch starts bin under the emulator on two free ports; exited is closed when the emulator has exited.
func launch(t testing.TB, name, bin string, env []string) (f *function, exited chan struct{}) {
	t.Helper()
	rieAddr, apiAddr := freeAddr(t), freeAddr(t)
	f = &function{name: name, rieAddr: rieAddr, url: "http://" + rieAddr + "/2015-03-31/functions/function/invocations",
		out: &syncbuf.Buffer{}}
	f.cmd = exec.Command(riePath(t), "--log-level", "error",
		"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, bin)
	f.cmd.Dir = filepath.Dir(bin)
	// The runtime variables first: env may override them (the last of duplicate keys wins).
	f.cmd.Env = append([]string{
		"AWS_LAMBDA_FUNCTION_NAME=outhook-" + name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(memoryMiB),
	}, env...)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	// Own process group, so that stopping it also stops the bootstrap the emulator started.
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, f.cmd.Start(), "start the emulator for %s", name)
	exited = make(chan struct{})
	go func() {
		_ = f.cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		if t.Failed() {
			t.Logf("output of the %s function:\n%s", name, f.out.String())
		}
	})
	return f, exited
}

// invokeClient waits longer than the functions' timeout.
var invokeClient = &http.Client{Timeout: 60 * time.Second}

// invoke sends one invocation and returns the emulator's status (200, or 502 when the function crashed)
// and the function's response.
func (f *function) invoke(t testing.TB, payload any) (int, []byte) {
	t.Helper()
	status, out, err := f.post(payload)
	require.NoError(t, err)
	return status, out
}

// post is invoke for goroutines other than the test's.
func (f *function) post(payload any) (int, []byte, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return 0, nil, fmt.Errorf("encode the event for %s: %w", f.name, err)
	}
	resp, err := invokeClient.Post(f.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read the answer of %s: %w", f.name, err)
	}
	return resp.StatusCode, out, nil
}

var invokeDurationRE = regexp.MustCompile(`\tDuration: ([0-9.]+) ms`)

// coldStart measures the function's init: it invokes noop (an invocation that makes no AWS request) twice
// on a fresh function and returns the difference of the two Durations the emulator reports (the first
// includes starting the bootstrap up to its first request for work). The emulator's own "Init Duration"
// only times handing the init to its sandbox, which is asynchronous: it reads a few microseconds whatever
// the function does.
func (f *function) coldStart(t testing.TB, noop any) time.Duration {
	t.Helper()
	require.Empty(t, f.invocations(), "coldStart must come first")
	for range 2 {
		status, out := f.invoke(t, noop)
		require.Equal(t, http.StatusOK, status, "%s", out)
	}
	// The REPORT lines reach the output through a pipe, maybe after the answer.
	require.Eventually(t, func() bool { return len(f.invocations()) == 2 }, 5*time.Second, 5*time.Millisecond)
	d := f.invocations()
	return d[0] - d[1]
}

// invocations returns the durations of every REPORT line so far.
func (f *function) invocations() []time.Duration {
	var out []time.Duration
	for _, m := range invokeDurationRE.FindAllStringSubmatch(f.out.String(), -1) {
		ms, err := strconv.ParseFloat(m[1], 64)
		if err == nil {
			out = append(out, time.Duration(ms*float64(time.Millisecond)))
		}
	}
	return out
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}
