// Package local_test runs the real `outhook serve` binary as a child process, on a random port with a
// temporary SQLite file, against real HTTP receivers: signing, retries, rotation, idempotency and
// durability across a SIGKILL, end to end. Skipped under -short.
package local_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/local/sqlite"
	"github.com/outhook/outhook/shared/syncbuf"
	"github.com/outhook/outhook/shared/webhook"
)

// binary is the outhook binary built once for the whole run.
var binary string

const apiKey = "ohk_e2e_key"

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "outhook-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "outhook")
	build := exec.Command("go", "build", "-o", binary, "github.com/outhook/outhook/cmd/outhook")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build outhook:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is one `outhook serve` child process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string // http://127.0.0.1:PORT
	key    string // the API key
	logs   *syncbuf.Buffer
	exited chan struct{}
}

// skipShort skips an end-to-end test under -short and marks it parallel.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end to end: runs the outhook binary")
	}
	t.Parallel()
}

// writeConfig writes a config file into dir and returns its path.
func writeConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "webhooks.yaml")
	require.NoError(t, os.WriteFile(path, []byte(yaml), 0o600))
	return path
}

// startServer runs `outhook serve` on a free port with the data in dataDir and waits until it logs that it
// serves. env adds environment variables (NAME=value; OUTHOOK_API_KEY is apiKey unless env sets it). The
// process is killed when the test ends.
func startServer(t *testing.T, configPath, dataDir string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, "serve", "--config", configPath, "--addr", "127.0.0.1:0", "--data", dataDir,
		"--log-format", "json", "--shutdown-timeout", "5s")
	cmd.Env = append(os.Environ(), append([]string{"OUTHOOK_API_KEY=" + apiKey}, env...)...)
	logs := &syncbuf.Buffer{}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{t: t, cmd: cmd, key: apiKey, logs: logs, exited: make(chan struct{})}

	urlCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "outhook serving" {
				urlCh <- rec.URL
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			t.Logf("outhook serve log:\n%s", logs.String())
		}
	})

	select {
	case s.url = <-urlCh:
	case <-s.exited:
		t.Fatalf("outhook serve exited at start:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("outhook serve did not start:\n%s", logs.String())
	}
	return s
}

// kill SIGKILLs the server: no shutdown of any kind.
func (s *server) kill() {
	require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGKILL))
	<-s.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.t.Fatalf("outhook serve did not stop on SIGTERM:\n%s", s.logs.String())
	}
	require.Equal(s.t, 0, s.cmd.ProcessState.ExitCode(), "exit code; log:\n%s", s.logs.String())
}

// queued stops the server and returns how many delivery messages its database still holds, visible now or
// later: the queue is read with a clock a year ahead, at which every delay and lease has passed. Zero proves
// that no attempt will ever be made beyond those the receiver has seen.
func (s *server) queued(dataDir string) int {
	s.t.Helper()
	s.stop()
	ahead := time.Now().Add(366 * 24 * time.Hour)
	db, err := sqlite.Open(context.Background(), filepath.Join(dataDir, "outhook.db"),
		sqlite.WithClock(func() time.Time { return ahead }))
	require.NoError(s.t, err)
	defer db.Close()
	n := 0
	for {
		msgs, err := db.Queue().Receive(context.Background(), 100, time.Minute)
		require.NoError(s.t, err)
		if len(msgs) == 0 {
			return n
		}
		n += len(msgs)
	}
}

// call makes an API request and decodes a 2xx answer into out (when not nil).
func (s *server) call(ctx context.Context, method, path string, body any, header map[string]string, out any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, res.Header, err
	}
	if res.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, res.Header, fmt.Errorf("decode %s: %w", data, err)
		}
	}
	return res.StatusCode, res.Header, nil
}

// sendReq is the body of a send.
type sendReq struct {
	Type    string `json:"type"`
	Payload any    `json:"payload"`
	UserID  string `json:"userId,omitempty"`
}

func (s *server) send(t *testing.T, set string, body sendReq, idemKey string) (webhook.SendResult, int, http.Header) {
	t.Helper()
	var res webhook.SendResult
	header := map[string]string{}
	if idemKey != "" {
		header["Idempotency-Key"] = idemKey
	}
	status, h, err := s.call(t.Context(), http.MethodPost, "/v1/webhooks/"+set+"/events", body, header, &res)
	require.NoError(t, err)
	return res, status, h
}

func (s *server) event(t *testing.T, set, id string) webhook.Event {
	t.Helper()
	var ev webhook.Event
	status, _, err := s.call(t.Context(), http.MethodGet, "/v1/webhooks/"+set+"/events/"+id, nil, nil, &ev)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return ev
}

// waitEvent polls the event until its status is want.
func (s *server) waitEvent(t *testing.T, set, id, want string, within time.Duration) webhook.Event {
	t.Helper()
	var ev webhook.Event
	require.Eventually(t, func() bool {
		ev = s.event(t, set, id)
		return ev.Status == want
	}, within, 50*time.Millisecond, "event %s never became %s", id, want)
	return ev
}

func (s *server) userSecret(t *testing.T, set, user string, rotate bool) webhook.UserSecret {
	t.Helper()
	method, path := http.MethodGet, "/v1/webhooks/"+set+"/users/"+user+"/secret"
	if rotate {
		method, path = http.MethodPost, path+"/rotate"
	}
	var us webhook.UserSecret
	status, _, err := s.call(t.Context(), method, path, nil, nil, &us)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return us
}

// delivery is one request a receiver got.
type delivery struct {
	at     time.Time
	path   string
	header http.Header
	body   []byte
}

// receiver is a real HTTP receiver on 127.0.0.1 that records every request and answers with respond.
type receiver struct {
	url     string
	mu      sync.Mutex
	got     []delivery
	arrived chan struct{} // one token per request
}

func newReceiver(t *testing.T, respond func(n int, r *http.Request) int) *receiver {
	t.Helper()
	rc := &receiver{arrived: make(chan struct{}, 100000)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, delivery{at: time.Now(), path: r.URL.Path, header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusOK
		if respond != nil {
			status = respond(n, r)
		}
		w.WriteHeader(status)
		rc.arrived <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	rc.url = srv.URL
	return rc
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// wait returns once n requests have arrived in all.
func (rc *receiver) wait(t *testing.T, n int, within time.Duration) []delivery {
	t.Helper()
	deadline := time.After(within)
	for len(rc.deliveries()) < n {
		select {
		case <-rc.arrived:
		case <-deadline:
			t.Fatalf("receiver got %d requests, want %d", len(rc.deliveries()), n)
		}
	}
	return rc.deliveries()
}

// deliveredBody is the Standard Webhooks body outhook POSTs.
type deliveredBody struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

func decodeDelivered(t *testing.T, b []byte) deliveredBody {
	t.Helper()
	var d deliveredBody
	require.NoError(t, json.Unmarshal(b, &d), "body %s", b)
	return d
}

// signatures splits a signature header value into its space-separated signatures.
func signatures(h http.Header, name string) []string {
	return strings.Fields(h.Get(name))
}
