// Package awstest gives tests a real AWS-compatible endpoint: the one in AWS_ENDPOINT_URL (LocalStack, or a
// moto server that is already running) or else one moto_server per test process, started from the project's
// Python venv on a free 127.0.0.1 port and stopped when the process ends. It also creates uniquely named
// tables and queues that are deleted after the test, and counts AWS requests by service and operation.
//
// Tests that use it skip only under -short; when no endpoint can be had they fail, saying how to get one.
package awstest

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region every test client uses.
const Region = "us-east-1"

// startTimeout bounds how long moto_server may take to answer after it was started.
const startTimeout = 30 * time.Second

var (
	motoOnce sync.Once
	motoURL  string
	motoErr  error
	motoProc *os.Process   // the moto_server this process started
	motoDone chan struct{} // closed when it has exited
)

// Endpoint returns the URL of the AWS-compatible endpoint for this test process: AWS_ENDPOINT_URL if set,
// else a moto_server started on first use. It skips the test under -short and fails it if no endpoint can be had.
func Endpoint(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("AWS-compatible endpoint tests are skipped under -short")
	}
	if url := os.Getenv("AWS_ENDPOINT_URL"); url != "" {
		return url
	}
	motoOnce.Do(func() { motoURL, motoErr = startMoto() })
	if motoErr != nil {
		t.Fatal(motoErr)
	}
	return motoURL
}

// Config returns an aws.Config for the test endpoint: static test credentials, region us-east-1 and
// BaseEndpoint set, so every client built from it talks to the endpoint and nowhere else.
func Config(t testing.TB) aws.Config {
	t.Helper()
	endpoint := Endpoint(t)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(endpoint),
		// Keep the environment's shared config files (a developer's ~/.aws) out of the tests.
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("load AWS config for %s: %v", endpoint, err)
	}
	return cfg
}

// Stop ends the moto_server this process started, if any. Main calls it; the server also dies with the
// process on Linux (parent-death signal), so a test binary without TestMain leaves nothing behind there.
func Stop() {
	if motoProc == nil {
		return
	}
	_ = motoProc.Kill()
	select {
	case <-motoDone:
	case <-time.After(5 * time.Second):
	}
}

// Main runs the tests of a package and then stops the moto_server they used:
//
//	func TestMain(m *testing.M) { awstest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// UniqueName returns prefix followed by a random suffix, valid as a table, queue or secret name.
func UniqueName(prefix string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	return prefix + hex.EncodeToString(b[:])
}

// motoServer is the Python launcher of moto_server; see the comment at its top.
//
//go:embed motoserver.py
var motoServer string

// motoPath finds moto_server: $OUTHOOK_VENV/bin/moto_server, else <module root>/.venv/bin/moto_server.
func motoPath() (string, error) {
	venv := os.Getenv("OUTHOOK_VENV")
	if venv == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		venv = filepath.Join(root, ".venv")
	}
	return filepath.Join(venv, "bin", "moto_server"), nil
}

// moduleRoot walks up from the working directory (a package directory under go test) to the go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// errPortTaken: moto_server could not bind the port chosen for it (another process took it in between).
var errPortTaken = errors.New("the port was taken before moto_server bound it")

// startMoto starts moto_server on a free port, again on another one if the port was taken before it bound it.
func startMoto() (string, error) {
	for try := 1; ; try++ {
		url, err := startMotoOnce()
		if !errors.Is(err, errPortTaken) || try == 3 {
			return url, err
		}
	}
}

func startMotoOnce() (string, error) {
	bin, err := motoPath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("moto_server not found at %s: run `make venv` (or `make test`), or set AWS_ENDPOINT_URL", bin)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	logFile, err := os.CreateTemp("", "moto-*.log")
	if err != nil {
		return "", fmt.Errorf("create moto_server log: %w", err)
	}
	defer logFile.Close()
	python := filepath.Join(filepath.Dir(bin), "python")
	cmd := exec.Command(python, "-c", motoServer, "-H", "127.0.0.1", "-p", port)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = sysProcAttr()
	// The parent-death signal fires when the thread that started the child exits, so start and wait on a
	// goroutine locked to its thread: the thread lives as long as moto_server does.
	started, exited := make(chan error, 1), make(chan error, 1)
	motoDone = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		exited <- cmd.Wait()
		close(motoDone)
	}()
	if err := <-started; err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	motoProc = cmd.Process
	url := "http://127.0.0.1:" + port
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			if out, _ := os.ReadFile(logFile.Name()); strings.Contains(string(out), "Address already in use") {
				return "", fmt.Errorf("moto_server on port %s: %w", port, errPortTaken)
			}
			return "", fmt.Errorf("moto_server exited before answering (%v); its output is in %s", err, logFile.Name())
		default:
		}
		if resp, err := client.Get(url + "/"); err == nil {
			resp.Body.Close()
			return url, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	Stop()
	return "", fmt.Errorf("moto_server did not answer on %s within %s; its output is in %s", url, startTimeout, logFile.Name())
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, _ := strings.Cut(l.Addr().String(), ":")
	return port, nil
}
