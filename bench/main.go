// Command bench measures the local server end to end. It runs the server as `outhook serve` assembles it
// (the HTTP API, the SQLite store and queue, the delivery workers) in a child process (this binary with
// -server), so that the server's own CPU time and peak RSS can be read from /proc; it sends events to one
// endpoint through the HTTP API over keep-alive connections (a minimal HTTP/1.1 client, see sender), and a
// receiver on 127.0.0.1 in this process (net/http) answers 200 to each delivery. The send time travels in the
// payload: the receiver subtracts it from its clock to get the send->delivered latency. `make bench` runs it.
//
// Phases, in this order: fixed rates (default 50/s and 500/s for 10 s each: open loop, a send starts on
// schedule whether or not the earlier ones have finished), then a burst (default 10,000 events from 32
// concurrent senders, as fast as the server accepts them). Each reports the send request's latency and the
// send->delivered latency; the burst also reports deliveries/s and the server's CPU time per delivery.
//
// Profiles of the server: -cpuprofile, -memprofile (allocations) and -trace (runtime/trace) cover the whole
// run; `-events 0 -rates 10 -duration 2s -trace t.out` traces low-load deliveries only.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outhook/outhook/shared/local/localserver"
)

const apiKey = "ohk_bench"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	events := flag.Int("events", 10000, "events of the burst (0: no burst)")
	senders := flag.Int("senders", 32, "concurrent senders of the burst")
	rates := flag.String("rates", "50,500", "fixed rates in events/s, comma-separated (empty: none)")
	duration := flag.Duration("duration", 10*time.Second, "duration of each fixed-rate phase")
	var sf serverFlags
	flag.IntVar(&sf.workers, "workers", localserver.DefaultWorkers, "delivery workers of the server")
	flag.StringVar(&sf.cpuProfile, "cpuprofile", "", "write a CPU profile of the server to this file")
	flag.StringVar(&sf.memProfile, "memprofile", "", "write an allocation profile of the server to this file")
	flag.StringVar(&sf.traceF, "trace", "", "write an execution trace of the server to this file")
	asServer := flag.Bool("server", false, "run as the server process (the bench starts it)")
	flag.StringVar(&sf.dir, "dir", "", "server process: directory of the database")
	flag.StringVar(&sf.receiver, "receiver", "", "server process: URL of the receiver")
	flag.Parse()
	if *asServer {
		return serve(sf)
	}
	// The senders and the receiver share the cores with the server: they collect garbage as it does (half as
	// often as Go's default), so as to take less of them.
	localserver.TuneGC()
	phases, err := parseRates(*rates)
	if err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "outhook-bench-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	rc := newReceiver()
	defer rc.close()
	sf.dir, sf.receiver = dir, rc.url+"/hooks"
	srv, err := startServer(sf)
	if err != nil {
		return err
	}
	defer srv.stop() //nolint:errcheck // the explicit stop below reports errors

	fmt.Printf("machine: %s, %d cores; bench and server GOMAXPROCS %d; load average before: %s\n",
		machine(), runtime.NumCPU(), runtime.GOMAXPROCS(0), loadAverage())
	fmt.Printf("server: %d delivery workers, one endpoint (signed: Standard Webhooks), receiver on 127.0.0.1\n", sf.workers)

	addr := strings.TrimPrefix(srv.url, "http://")
	b := &bench{host: addr, path: "/v1/webhooks/bench/events", rc: rc, conns: &connPool{addr: addr}}
	defer b.conns.close()
	// Warm up: connections, the database's first pages, the runtime's heap.
	if _, err := b.closedLoop("warm-up", 200, 4); err != nil {
		return err
	}
	for _, rate := range phases {
		n := int(float64(rate) * duration.Seconds())
		res, err := b.fixedRate(fmt.Sprintf("fixed %d/s", rate), rate, n)
		if err != nil {
			return err
		}
		res.print()
	}
	if *events > 0 {
		cpuBefore, err := processCPU(srv.pid())
		if err != nil {
			return err
		}
		selfBefore, err := processCPU(os.Getpid())
		if err != nil {
			return err
		}
		res, err := b.closedLoop(fmt.Sprintf("burst of %d events, %d senders", *events, *senders), *events, *senders)
		if err != nil {
			return err
		}
		cpuAfter, err := processCPU(srv.pid())
		if err != nil {
			return err
		}
		selfAfter, err := processCPU(os.Getpid())
		if err != nil {
			return err
		}
		res.cpu, res.benchCPU = cpuAfter-cpuBefore, selfAfter-selfBefore
		res.print()
	}
	rss, err := peakRSS(srv.pid())
	if err != nil {
		return err
	}
	fmt.Printf("server peak RSS: %.1f MB; connections it opened to the receiver: %d; load average after: %s\n",
		float64(rss)/(1<<20), rc.conns.Load(), loadAverage())
	if n := rc.unsigned.Load(); n > 0 {
		return fmt.Errorf("%d deliveries came without a signature", n)
	}
	return srv.stop()
}

func parseRates(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		r, err := strconv.Atoi(f)
		if err != nil || r < 1 {
			return nil, fmt.Errorf("-rates: %q is not a positive number of events per second", f)
		}
		rates = append(rates, r)
	}
	return rates, nil
}

// server is the server child process.
type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	url   string
	once  sync.Once
	err   error
}

func startServer(f serverFlags) (*server, error) {
	args := []string{"-server", "-dir", f.dir, "-receiver", f.receiver, "-workers", strconv.Itoa(f.workers),
		"-cpuprofile", f.cpuProfile, "-memprofile", f.memProfile, "-trace", f.traceF}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), secretName+"=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	s := &server{cmd: cmd, stdin: stdin}
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return nil, errors.Join(fmt.Errorf("read the server's address: %w", err), s.stop())
	}
	s.url = "http://" + strings.TrimSpace(addr)
	return s, nil
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stop closes the server's stdin, which shuts it down, and waits for it to exit.
func (s *server) stop() error {
	s.once.Do(func() {
		s.err = errors.Join(s.stdin.Close(), s.cmd.Wait())
		if s.err != nil {
			s.err = fmt.Errorf("server: %w", s.err)
		}
	})
	return s.err
}

// bench sends events and collects what the receiver saw.
type bench struct {
	host, path string // of the API's send endpoint
	rc         *receiver
	conns      *connPool // kept-alive connections to the API
	phase      int
}

// result is what one phase measured.
type result struct {
	name     string
	n        int
	sendLat  []time.Duration // of each send request, sorted
	deliver  []time.Duration // send->delivered of each event, sorted
	elapsed  time.Duration   // first send to last delivery
	cpu      time.Duration   // of the server, if measured
	benchCPU time.Duration   // of this process (senders and receiver), if measured
	dups     int64
	sendSpan time.Duration // first send to last answer
	late     int           // fixed rate: sends that started late because too many were in flight
}

func (r result) print() {
	fmt.Printf("%s:\n", r.name)
	fmt.Printf("  deliveries: %d in %v (%.0f/s), %d duplicates; sends answered in %v (%.0f/s)\n", r.n,
		r.elapsed.Round(time.Millisecond), float64(r.n)/r.elapsed.Seconds(), r.dups,
		r.sendSpan.Round(time.Millisecond), float64(r.n)/r.sendSpan.Seconds())
	fmt.Printf("  send request:    p50 %v  p99 %v  max %v\n", pct(r.sendLat, 50), pct(r.sendLat, 99), pct(r.sendLat, 100))
	fmt.Printf("  send->delivered: p50 %v  p99 %v  max %v\n", pct(r.deliver, 50), pct(r.deliver, 99), pct(r.deliver, 100))
	if r.cpu > 0 {
		fmt.Printf("  server CPU: %.3f ms per delivery (%.0f%% of one core over the burst)\n",
			r.cpu.Seconds()*1000/float64(r.n), 100*r.cpu.Seconds()/r.elapsed.Seconds())
		// The load generator and the receiver share the machine's cores with the server: what they use is
		// not available to it.
		fmt.Printf("  bench process (senders and receiver) CPU: %.3f ms per delivery (%.0f%% of one core)\n",
			r.benchCPU.Seconds()*1000/float64(r.n), 100*r.benchCPU.Seconds()/r.elapsed.Seconds())
	}
	if r.late > 0 {
		fmt.Printf("  %d sends started late: the server did not keep up with the rate\n", r.late)
	}
}

// closedLoop sends n events from the given number of senders, each sending its next event as soon as the
// previous one is answered.
func (b *bench) closedLoop(name string, n, senders int) (result, error) {
	ph := b.rc.expect(b.nextPhase(), n)
	var next atomic.Int64
	lat := make([]time.Duration, n)
	errs := make(chan error, senders)
	start := time.Now()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				d, err := b.send(ph.id, int(i))
				if err != nil {
					errs <- err
					return
				}
				lat[i] = d
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := errors.Join(slices.Collect(chanSeq(errs))...); err != nil {
		return result{}, err
	}
	return b.finish(name, ph, start, time.Since(start), lat, 0)
}

// fixedRate sends n events at rate events/s, open loop.
func (b *bench) fixedRate(name string, rate, n int) (result, error) {
	ph := b.rc.expect(b.nextPhase(), n)
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, n)
	inFlight := make(chan struct{}, 512)
	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		sendErr error
		late    int
	)
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		select {
		case inFlight <- struct{}{}:
		default:
			late++
			inFlight <- struct{}{}
		}
		wg.Go(func() {
			defer func() { <-inFlight }()
			d, err := b.send(ph.id, i)
			if err != nil {
				errMu.Lock()
				sendErr = errors.Join(sendErr, err)
				errMu.Unlock()
			}
			lat[i] = d
		})
	}
	wg.Wait()
	if sendErr != nil {
		return result{}, sendErr
	}
	return b.finish(name, ph, start, time.Since(start), lat, late)
}

func (b *bench) nextPhase() int {
	b.phase++
	return b.phase
}

// finish waits for the phase's deliveries and gathers its figures.
func (b *bench) finish(name string, ph *phase, start time.Time, sendSpan time.Duration, sendLat []time.Duration, late int) (result, error) {
	select {
	case <-ph.done:
	case <-time.After(5 * time.Minute):
		b.rc.mu.Lock()
		got := ph.count()
		b.rc.mu.Unlock()
		return result{}, fmt.Errorf("%s: only %d of %d events delivered after 5 minutes", name, got, ph.want)
	}
	slices.Sort(sendLat)
	deliver, last := ph.latencies()
	return result{name: name, n: ph.want, sendLat: sendLat, deliver: deliver, elapsed: last.Sub(start),
		dups: b.rc.dups.Load(), sendSpan: sendSpan, late: late}, nil
}

// send posts one event and returns how long the request took.
func (b *bench) send(phase, i int) (time.Duration, error) {
	c, err := b.conns.get()
	if err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	start := time.Now()
	body := fmt.Appendf(nil, `{"type":"bench.event","payload":{"phase":%d,"n":%d,"sentAt":%d}}`, phase, i, start.UnixNano())
	status, keep, err := c.post(b.host, b.path, body)
	d := time.Since(start)
	if keep && err == nil {
		b.conns.put(c)
	} else {
		_ = c.conn.Close()
	}
	switch {
	case err != nil:
		return 0, fmt.Errorf("send: %w", err)
	case status != http.StatusAccepted:
		return 0, fmt.Errorf("send: status %d", status)
	}
	return d, nil
}

// pct is the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	d := sorted[max(i-1, 0)]
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(100 * time.Microsecond)
}

func chanSeq[T any](ch <-chan T) func(yield func(T) bool) {
	return func(yield func(T) bool) {
		for v := range ch {
			if !yield(v) {
				return
			}
		}
	}
}
