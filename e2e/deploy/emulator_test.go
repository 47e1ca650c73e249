package deploy

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// emulatorStartTimeout bounds how long ministack may take to answer its health check (a loaded machine).
const emulatorStartTimeout = 90 * time.Second

// ministackLauncher starts ministack; see the comment at its top.
//
//go:embed ministack.py
var ministackLauncher string

// emulator is one ministack process on a free 127.0.0.1 port, with the recording proxy its functions use.
type emulator struct {
	url      string    // ministack itself: the endpoint of the CDK CLI and the test's own clients
	recorder *recorder // what the functions called, through the proxy
	log      string    // ministack's output
}

// emulatorVenv is the venv `make emulator` installs ministack into (OUTHOOK_EMULATOR_VENV, set by
// `make test`, or .tools/ministack under the module root).
func emulatorVenv(t *testing.T, root string) string {
	t.Helper()
	venv := os.Getenv("OUTHOOK_EMULATOR_VENV")
	if venv == "" {
		venv = filepath.Join(root, ".tools", "ministack")
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatalf("ministack's venv is not at %s: run `make emulator` (or `make test`), or set OUTHOOK_EMULATOR_VENV", venv)
	}
	return venv
}

// startEmulator starts ministack and the recording proxy in front of it, and stops both (and every function
// process ministack started) when the test ends.
func startEmulator(t *testing.T, root string) *emulator {
	t.Helper()
	venv := emulatorVenv(t, root)

	rec := &recorder{}
	proxyListener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := freePort(t)
	target := "http://127.0.0.1:" + port
	rec.target, err = url.Parse(target)
	require.NoError(t, err)
	proxy := &http.Server{
		Handler:           rec,
		ReadHeaderTimeout: 30 * time.Second,
		// Each connection is attributed once, when it is accepted, to the function process that opened it.
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, callerKey{}, rec.attribute(c))
		},
	}
	go func() { _ = proxy.Serve(proxyListener) }()
	t.Cleanup(func() { _ = proxy.Close() })
	rec.proxyAddr = proxyListener.Addr().String()

	dir := t.TempDir()
	logPath := filepath.Join(dir, "ministack.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	t.Cleanup(func() { _ = logFile.Close() })

	cmd := exec.Command(filepath.Join(venv, "bin", "python"), "-c", ministackLauncher)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(),
		"GATEWAY_PORT="+port,
		"BIND_HOST=127.0.0.1",
		"MINISTACK_HOST=127.0.0.1",
		"MINISTACK_REGION="+region,
		// The function processes inherit ministack's environment and take their AWS endpoint from it: without
		// it they would call real AWS. It is the proxy, which records each call and forwards it to ministack.
		"AWS_ENDPOINT_URL=http://"+rec.proxyAddr,
		"TMPDIR="+dir,
		"S3_DATA_DIR="+filepath.Join(dir, "s3"),
		"STATE_DIR="+filepath.Join(dir, "state"),
		"LOG_LEVEL=INFO",
	)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Its own process group, so that the function processes it starts are stopped with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			if len(out) > 20000 {
				out = out[len(out)-20000:]
			}
			t.Logf("the end of ministack's output:\n%s", out)
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(emulatorStartTimeout)
	for {
		select {
		case <-exited:
			out, _ := os.ReadFile(logPath)
			t.Fatalf("ministack exited before answering:\n%s", out)
		default:
		}
		resp, err := client.Get(target + "/_ministack/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ministack did not answer on %s within %s; its output is in %s", target, emulatorStartTimeout, logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &emulator{url: target, recorder: rec, log: logPath}
}

// cleanEnv is the test process's environment without AWS settings (a developer's profile, region or keys),
// make's variables and the CDK CLI's network checks, so that nothing reaches a real account or the internet.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "MAKEFLAGS" || k == "MAKELEVEL" || k == "MFLAGS" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	return port
}

// call is one AWS request a function made, as the proxy saw it.
type call struct {
	Function string // AWS_LAMBDA_FUNCTION_NAME of the calling process; empty if it could not be told
	Caller   string // why Function is empty
	Target   string // X-Amz-Target, e.g. DynamoDB_20120810.PutItem
	Status   int
	Request  []byte
	Response []byte
}

type callerKey struct{}

// recorder is a reverse proxy to ministack that records every request with the function that sent it.
type recorder struct {
	target    *url.URL
	proxyAddr string

	mu    sync.Mutex
	calls []call
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadGateway)
		return
	}
	c := call{Target: req.Header.Get("X-Amz-Target"), Request: body}
	switch who := req.Context().Value(callerKey{}).(type) {
	case caller:
		c.Function, c.Caller = who.function, who.err
	default:
		c.Caller = "no caller recorded for the connection"
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(r.target); pr.Out.Host = pr.In.Host },
		ModifyResponse: func(resp *http.Response) error {
			data, err := io.ReadAll(resp.Body)
			if err != nil {
				return fmt.Errorf("read response: %w", err)
			}
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(data))
			c.Status, c.Response = resp.StatusCode, data
			return nil
		},
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	proxy.ServeHTTP(w, req)
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// Calls returns a copy of the calls recorded so far.
func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// caller is the function process behind one proxy connection.
type caller struct {
	function string
	err      string
}

func (r *recorder) attribute(c net.Conn) caller {
	name, err := functionOf(c.RemoteAddr().String(), r.proxyAddr)
	if err != nil {
		return caller{err: err.Error()}
	}
	return caller{function: name}
}
