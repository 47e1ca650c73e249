package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// receiver answers 200 to every webhook and records, per phase, the send->delivered latency of each new
// event id.
type receiver struct {
	srv      *httptest.Server
	url      string
	dups     atomic.Int64
	unsigned atomic.Int64 // deliveries without a signature: the bench fails
	conns    atomic.Int64 // connections the server opened to the receiver

	mu     sync.Mutex
	seen   map[string]bool
	phases map[int]*phase
}

// phase collects the deliveries of one phase.
type phase struct {
	id, want int
	done     chan struct{}
	lat      []time.Duration
	last     time.Time
}

func newReceiver() *receiver {
	rc := &receiver{seen: make(map[string]bool), phases: make(map[int]*phase)}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			rc.conns.Add(1)
		}
	}
	rc.srv.Start()
	rc.url = rc.srv.URL
	return rc
}

func (rc *receiver) close() { rc.srv.Close() }

// expect registers a phase that will deliver want events.
func (rc *receiver) expect(id, want int) *phase {
	ph := &phase{id: id, want: want, done: make(chan struct{}), lat: make([]time.Duration, 0, want)}
	rc.mu.Lock()
	rc.phases[id] = ph
	rc.mu.Unlock()
	return ph
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	// The receiver shares the cores with the server: it reads the two numbers it needs from the body
	// ({"id":..,"data":{"phase":N,"n":N,"sentAt":N}}) without decoding the whole of it.
	buf := bodies.Get().(*bytes.Buffer)
	defer bodies.Put(buf)
	buf.Reset()
	_, err := buf.ReadFrom(r.Body)
	phase, okPhase := numberAfter(buf.Bytes(), `"phase":`)
	sentAt, okSent := numberAfter(buf.Bytes(), `"sentAt":`)
	if err != nil || !okPhase || !okSent {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if r.Header.Get("webhook-signature") == "" {
		rc.unsigned.Add(1)
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.seen[id] {
		rc.dups.Add(1)
		return
	}
	rc.seen[id] = true
	ph, ok := rc.phases[int(phase)]
	if !ok {
		return
	}
	ph.lat = append(ph.lat, now.Sub(time.Unix(0, sentAt)))
	ph.last = now
	if len(ph.lat) == ph.want {
		close(ph.done)
	}
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// numberAfter reads the integer that follows key in body.
func numberAfter(body []byte, key string) (int64, bool) {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0, false
	}
	digits := body[i+len(key):]
	n := 0
	for n < len(digits) && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	v, err := strconv.ParseInt(string(digits[:n]), 10, 64)
	return v, err == nil
}

// count is how many of the phase's events have been delivered; the caller holds the receiver's lock.
func (ph *phase) count() int { return len(ph.lat) }

// latencies returns the phase's latencies, sorted, and the time of its last delivery; call it after done.
func (ph *phase) latencies() ([]time.Duration, time.Time) {
	out := slices.Clone(ph.lat)
	slices.Sort(out)
	return out, ph.last
}
