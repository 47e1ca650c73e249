// Command bench measures the local server end to end: it runs the same server as `outhook serve` (the HTTP
// API, the SQLite store and queue, the delivery workers) on 127.0.0.1, sends events to one endpoint through
// the HTTP API from concurrent senders, and waits until a local receiver has got every one of them. It prints
// the send rate, deliveries per second, and the send->delivered latency (the send time travels in the payload;
// the receiver subtracts it from its clock). `make bench` runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/local/localserver"
	"github.com/outhook/outhook/shared/local/sqlite"
)

const apiKey = "ohk_bench"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	events := flag.Int("events", 10000, "events to send")
	senders := flag.Int("senders", 32, "concurrent senders")
	workers := flag.Int("workers", localserver.DefaultWorkers, "delivery workers of the server")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	dir, err := os.MkdirTemp("", "outhook-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	rc := newReceiver(*events)
	defer rc.srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "outhook.db"))
	if err != nil {
		return fmt.Errorf("open the database: %w", err)
	}
	defer db.Close()
	doc := &config.Config{Sets: []config.Set{{Name: "bench", Endpoints: []config.Endpoint{{
		Name: "receiver", URL: rc.srv.URL + "/hooks", AllowPrivateNetwork: true,
	}}}}}
	cfg, err := doc.Validate()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	srv, err := localserver.New(localserver.Options{
		Config: cfg, DB: db, APIKey: apiKey, CursorKey: []byte("bench"), Workers: *workers,
		// The server logs every attempt; format the lines as `outhook serve` does, without a terminal.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx, ln, 10*time.Second) }()
	apiURL := "http://" + ln.Addr().String() + "/v1/webhooks/bench/events"

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("create the profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start the profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	fmt.Printf("sending %d events to one endpoint: %d senders, %d delivery workers, GOMAXPROCS %d\n",
		*events, *senders, *workers, runtime.GOMAXPROCS(0))
	cpuBefore, err := cpuTime()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := send(ctx, apiURL, *events, *senders); err != nil {
		return err
	}
	sent := time.Since(start)
	select {
	case <-rc.done:
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("only %d of %d events delivered after 5 minutes", rc.count.Load(), *events)
	}
	total := rc.last().Sub(start)
	cpuAfter, err := cpuTime()
	if err != nil {
		return err
	}
	cancel()
	if err := <-served; err != nil {
		return err
	}

	lat := rc.latencies()
	fmt.Printf("sends:      %d in %v (%.0f/s)\n", *events, sent.Round(time.Millisecond), float64(*events)/sent.Seconds())
	fmt.Printf("deliveries: %d in %v (%.0f/s), %d duplicates\n", *events, total.Round(time.Millisecond),
		float64(*events)/total.Seconds(), rc.dups.Load())
	fmt.Printf("send->delivered: p50 %v  p99 %v  max %v\n", pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
	// On a shared machine the wall-clock rate depends on the neighbours; the CPU time per event does not.
	perEvent := (cpuAfter - cpuBefore) / time.Duration(*events)
	fmt.Printf("CPU (server, senders and receiver together): %v per event, %.0f%% of one core on average;\n"+
		"  events/s if this process had all %d cores: %.0f\n", perEvent,
		100*(cpuAfter-cpuBefore).Seconds()/total.Seconds(), runtime.NumCPU(),
		float64(runtime.NumCPU())/perEvent.Seconds())
	return nil
}

// send posts n events from the given number of concurrent senders and fails on any non-202 answer.
func send(ctx context.Context, url string, n, senders int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders}, Timeout: time.Minute}
	var next atomic.Int64
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := fmt.Appendf(nil, `{"type":"bench.event","payload":{"n":%d,"sentAt":%d}}`, i, time.Now().UnixNano())
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+apiKey)
				res, err := client.Do(req)
				if err != nil {
					errs <- fmt.Errorf("send: %w", err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("send: status %d", res.StatusCode)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(slices.Collect(func(yield func(error) bool) {
		for err := range errs {
			if !yield(err) {
				return
			}
		}
	})...)
}

// receiver answers 200 to every webhook and records the send->delivered latency of each new event id.
type receiver struct {
	srv   *httptest.Server
	want  int
	done  chan struct{}
	count atomic.Int64
	dups  atomic.Int64

	mu      sync.Mutex
	seen    map[string]bool
	lat     []time.Duration
	lastAt  time.Time
	closeMu sync.Once
}

func newReceiver(want int) *receiver {
	rc := &receiver{want: want, done: make(chan struct{}), seen: make(map[string]bool, want)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Data struct {
			SentAt int64 `json:"sentAt"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	if rc.seen[id] {
		rc.mu.Unlock()
		rc.dups.Add(1)
		return
	}
	rc.seen[id] = true
	rc.lat = append(rc.lat, now.Sub(time.Unix(0, body.Data.SentAt)))
	rc.lastAt = now
	rc.mu.Unlock()
	if rc.count.Add(1) == int64(rc.want) {
		rc.closeMu.Do(func() { close(rc.done) })
	}
}

func (rc *receiver) last() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.lastAt
}

// latencies returns the recorded latencies, sorted.
func (rc *receiver) latencies() []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := slices.Clone(rc.lat)
	slices.Sort(out)
	return out
}

// pct is the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)].Round(time.Millisecond)
}

// cpuTime is the user + system CPU time this process has used.
func cpuTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
