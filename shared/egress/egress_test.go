package egress_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/egress"
)

type receiver struct {
	srv  *httptest.Server
	hits atomic.Int64
}

// newReceiver starts a real HTTP server on 127.0.0.1 with the given behaviour; connState, if not nil, sees
// the server's connection state changes.
func newReceiver(t *testing.T, h http.HandlerFunc, connState ...func(net.Conn, http.ConnState)) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		h(w, req)
	}))
	for _, f := range connState {
		r.srv.Config.ConnState = f
	}
	r.srv.Start()
	t.Cleanup(r.srv.Close)
	return r
}

func post(t *testing.T, ctx context.Context, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	return req
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }

func TestClient_Do_RefusesLoopback(t *testing.T) {
	t.Parallel()

	r := newReceiver(t, ok)
	c := egress.New()
	resp, err := c.Do(post(t, t.Context(), r.srv.URL+"/hook"), false)
	if resp != nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, egress.ErrPrivateAddress)
	var pe *egress.PrivateAddressError
	require.True(t, errors.As(err, &pe))
	addr := strings.TrimPrefix(r.srv.URL, "http://")
	require.Equal(t, addr, pe.Addr)
	require.Contains(t, err.Error(), "egress: refusing to connect to private address "+addr)
	require.Zero(t, r.hits.Load())
}

func TestClient_Do_AllowPrivate(t *testing.T) {
	t.Parallel()

	r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	c := egress.New()
	resp, err := c.Do(post(t, t.Context(), r.srv.URL+"/hook"), true)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.EqualValues(t, 1, r.hits.Load())

	// The public client is still restricted after the private one was used.
	_, err = c.Do(post(t, t.Context(), r.srv.URL+"/hook"), false)
	require.ErrorIs(t, err, egress.ErrPrivateAddress)
	require.EqualValues(t, 1, r.hits.Load())
}

func TestClient_Do_RefusesHostnameResolvingToLoopback(t *testing.T) {
	t.Parallel()

	r := newReceiver(t, ok)
	port := r.srv.URL[strings.LastIndex(r.srv.URL, ":")+1:]
	_, err := egress.New().Do(post(t, t.Context(), "http://localhost:"+port+"/hook"), false)
	require.ErrorIs(t, err, egress.ErrPrivateAddress)
	require.Zero(t, r.hits.Load())
}

func TestClient_Do_DoesNotFollowRedirects(t *testing.T) {
	t.Parallel()

	var followed atomic.Bool
	r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/elsewhere" {
			followed.Store(true)
			return
		}
		http.Redirect(w, req, "/elsewhere", http.StatusTemporaryRedirect)
	})
	resp, err := egress.New().Do(post(t, t.Context(), r.srv.URL+"/hook"), true)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	require.Equal(t, "/elsewhere", resp.Header.Get("Location"))
	require.False(t, followed.Load())
	require.EqualValues(t, 1, r.hits.Load())
}

func TestClient_Do_ContextBoundsTheRequest(t *testing.T) {
	t.Parallel()

	release := make(chan struct{})
	r := newReceiver(t, func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	})
	defer close(release)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := egress.New().Do(post(t, ctx, r.srv.URL), true)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestClient_Do_ReusesConnections(t *testing.T) {
	t.Parallel()

	var conns atomic.Int64
	r := newReceiver(t, ok, func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	})
	c := egress.New()
	for range 20 {
		resp, err := c.Do(post(t, t.Context(), r.srv.URL), true)
		require.NoError(t, err)
		resp.Body.Close()
	}
	require.EqualValues(t, 20, r.hits.Load())
	require.EqualValues(t, 1, conns.Load())
}

// BenchmarkClient_Do measures concurrent POSTs to one local receiver, the shape of a delivery burst.
func BenchmarkClient_Do(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(ok))
	defer srv.Close()
	c := egress.New()
	body := strings.Repeat("x", 512)
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			resp, err := c.Do(req, true)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
