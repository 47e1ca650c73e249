package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/outhook/outhook/shared/signing"
)

var listenCommand = &command{
	name:    "listen",
	summary: "run a receiver that prints each webhook and verifies its signature (400 if invalid)",
	synopsis: "listen [--addr HOST:PORT] [--secret S ...] [--scheme standard|header=NAME,...] [--fail N] [--save DIR]\n\n" +
		"--save DIR writes each request, raw, to DIR/<number>-<path>.http (e.g. 000001-hooks-crm.http), for outhook verify.",
}

// maxListenBody bounds a received webhook body.
const maxListenBody = 1 << 20

func runListen(ctx context.Context, e *env, args []string) error {
	fs := listenCommand.flags(e)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var secrets stringList // the repeatable flag type of verify.go
	fs.Var(&secrets, "secret", "signing secret to verify with (repeatable: any one may match); "+
		"whsec_/whcms_ secrets are prefix + base64 of the key, others are used as is")
	scheme := newSchemeFlag()
	fs.Var(scheme, "scheme", schemeUsage)
	tolerance := fs.Duration("tolerance", 5*time.Minute, "largest accepted age of a signature timestamp")
	fail := fs.Int("fail", 0, "answer 500 to the first N requests (to watch retries)")
	save := fs.String("save", "", "also write each request, raw, to a file in this directory named for its number and path (for outhook verify)")
	if err := parse(fs, args); err != nil {
		return err
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		k, err := signing.Key(s)
		if err != nil {
			return usagef("--secret #%d: %v", i+1, err)
		}
		keys = append(keys, k)
	}
	if *fail < 0 {
		return usagef("--fail must not be negative")
	}

	if *save != "" {
		if err := os.MkdirAll(*save, 0o700); err != nil {
			return fmt.Errorf("create the --save directory: %w", err)
		}
	}

	l := &listener{
		out:       e.stdout,
		saveDir:   *save,
		scheme:    scheme.scheme,
		keys:      keys,
		tolerance: *tolerance,
		failLeft:  *fail,
		now:       time.Now,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "listening on http://%s (%s)\n", ln.Addr(), l.describe())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// listener is the receiver: it prints each request, verifies it, and answers.
type listener struct {
	out       io.Writer
	scheme    signing.Scheme
	keys      [][]byte
	tolerance time.Duration
	saveDir   string // "" : do not save
	now       func() time.Time

	mu       sync.Mutex // serializes the output and guards the counters
	count    int
	failLeft int
}

func (l *listener) describe() string {
	d := describeScheme(l.scheme)
	if len(l.keys) == 0 {
		return d + "; no --secret: signatures are shown, not verified"
	}
	return d + fmt.Sprintf("; verifying with %d secret(s)", len(l.keys))
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxListenBody))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	verdict, status := l.check(r.Header, body)

	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if status < 300 && l.failLeft > 0 {
		l.failLeft--
		verdict += fmt.Sprintf("; answering 500 as asked by --fail (%d more)", l.failLeft)
		status = http.StatusInternalServerError
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- #%d %s %s %s\n", l.count, l.now().UTC().Format(time.TimeOnly), r.Method, r.URL.RequestURI())
	names := make([]string, 0, len(r.Header))
	for name := range r.Header {
		if name != "Accept-Encoding" && name != "Content-Length" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "%s: %s\n", strings.ToLower(name), strings.Join(r.Header.Values(name), ", "))
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, body, "", "  ") == nil {
		b.Write(pretty.Bytes())
	} else {
		b.Write(body)
	}
	fmt.Fprintf(&b, "\nsignature: %s\n<- %d\n", verdict, status)
	if l.saveDir != "" {
		path := filepath.Join(l.saveDir, savedName(l.count, r.URL.Path))
		if err := os.WriteFile(path, rawRequest(r, body), 0o600); err != nil {
			fmt.Fprintf(&b, "save: %v\n", err)
		} else {
			fmt.Fprintf(&b, "saved: %s\n", path)
		}
	}
	_, _ = io.WriteString(l.out, b.String())

	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, http.StatusText(status))
}

// check verifies the request's signature and returns what to print and the status to answer.
func (l *listener) check(h http.Header, body []byte) (string, int) {
	header := l.scheme.Header
	switch {
	case h.Get(header) == "" && h.Get(signing.SignatureHeader) != "":
		return "Standard Webhooks headers, not the --scheme in use: not verified", http.StatusOK
	case h.Get(header) == "":
		return "none (unsigned)", http.StatusOK
	case len(l.keys) == 0:
		return "present, not verified (no --secret)", http.StatusOK
	}
	if err := signing.Verify(l.scheme, h, body, l.keys, l.tolerance, l.now()); err != nil {
		return "INVALID: " + err.Error(), http.StatusBadRequest
	}
	return "verified", http.StatusOK
}

// savedName is the file name --save gives the n-th request: its number and its path, made safe for a file
// name ("/hooks/crm" -> "000001-hooks-crm.http"; "/" -> "000001-root.http").
func savedName(n int, path string) string {
	slug := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '-'
		}
	}, path)
	slug = strings.Trim(slug, "-.")
	for strings.Contains(slug, "--") {
		slug = strings.ReplaceAll(slug, "--", "-")
	}
	if len(slug) > maxSavedSlug {
		slug = strings.TrimRight(slug[:maxSavedSlug], "-.")
	}
	if slug == "" {
		slug = "root"
	}
	return fmt.Sprintf("%06d-%s.http", n, slug)
}

// maxSavedSlug bounds the path part of a saved file's name.
const maxSavedSlug = 80

// rawRequest renders a received request as HTTP/1.1 wire text: request line, headers, blank line, body.
func rawRequest(r *http.Request, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.URL.RequestURI(), r.Host)
	h := r.Header.Clone()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_ = h.Write(&b) // writes to a bytes.Buffer do not fail
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
