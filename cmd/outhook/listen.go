package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/signing"
)

var listenCommand = &command{
	name:     "listen",
	summary:  "run a receiver that prints each webhook and verifies its signature (400 if invalid)",
	synopsis: "listen [--addr HOST:PORT] [--secret S ...] [--scheme standard|header=NAME,...] [--fail N] [--save DIR]",
}

// maxListenBody bounds a received webhook body.
const maxListenBody = 1 << 20

func runListen(ctx context.Context, e *env, args []string) error {
	fs := listenCommand.flags(e)
	addr := fs.String("addr", "127.0.0.1:9000", "address to listen on")
	var secrets stringList // the repeatable flag type of verify.go
	fs.Var(&secrets, "secret", "signing secret to verify with (repeatable: any one may match); "+
		"whsec_/whcms_ secrets are prefix + base64 of the key, others are used as is")
	scheme := fs.String("scheme", "standard", "signing scheme: standard (webhook-id, webhook-timestamp, "+
		"webhook-signature) or comma-separated config keys, e.g.\n"+
		"header=x-outhook-signature,timestampHeader=x-outhook-timestamp,signedPayload=timestamp.rawBody,encoding=hex")
	tolerance := fs.Duration("tolerance", 5*time.Minute, "largest accepted age of a signature timestamp")
	fail := fs.Int("fail", 0, "answer 500 to the first N requests (to watch retries)")
	save := fs.String("save", "", "also write each request, raw, to a file in this directory (for outhook verify)")
	if err := parse(fs, args); err != nil {
		return err
	}
	sig, err := parseScheme(*scheme)
	if err != nil {
		return usageError{msg: err.Error()}
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
		signing:   sig,
		scheme:    signing.SchemeFor(sig),
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

// parseScheme reads --scheme: "standard", or key=value pairs with the keys of an endpoint's signing block.
// It returns nil for the Standard Webhooks scheme.
func parseScheme(s string) (*config.Signing, error) {
	if s == "standard" {
		return nil, nil
	}
	sig := &config.Signing{}
	fields := map[string]*string{
		"header":          &sig.Header,
		"timestampHeader": &sig.TimestampHeader,
		"signedPayload":   &sig.SignedPayload,
		"encoding":        &sig.Encoding,
		"algorithm":       &sig.Algorithm,
	}
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		field, known := fields[k]
		if !ok || !known {
			return nil, fmt.Errorf("--scheme: %q is not key=value with a key among header, timestampHeader, "+
				"signedPayload, encoding, algorithm", kv)
		}
		*field = v
	}
	if sig.Header == "" {
		return nil, errors.New("--scheme: header=NAME is required (or use --scheme standard)")
	}
	// Validate the block with the config's own rules, which also fill in its defaults.
	cfg := config.Config{Sets: []config.Set{{Name: "listen", Endpoints: []config.Endpoint{{
		Name: "listen", URL: "http://127.0.0.1/", Signing: sig,
	}}}}}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("--scheme: %s", strings.ReplaceAll(err.Error(), "sets[0].endpoints[0].signing.", ""))
	}
	return sig, nil
}

// listener is the receiver: it prints each request, verifies it, and answers.
type listener struct {
	out       io.Writer
	signing   *config.Signing // nil: Standard Webhooks
	scheme    signing.Scheme
	keys      [][]byte
	tolerance time.Duration
	saveDir   string // "" : do not save
	now       func() time.Time

	mu       sync.Mutex // serializes the output and guards the counters
	count    int
	failLeft int
}

// signatureHeader is the header that carries the scheme's signature.
func (l *listener) signatureHeader() string {
	if l.signing == nil {
		return "webhook-signature"
	}
	return l.signing.Header
}

func (l *listener) describe() string {
	var b strings.Builder
	if l.signing == nil {
		b.WriteString("Standard Webhooks scheme")
	} else {
		fmt.Fprintf(&b, "signature in %s, %s of %s", l.signing.Header, l.signing.Encoding, l.signing.SignedPayload)
	}
	if len(l.keys) == 0 {
		b.WriteString("; no --secret: signatures are shown, not verified")
	} else {
		fmt.Fprintf(&b, "; verifying with %d secret(s)", len(l.keys))
	}
	return b.String()
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
		path := filepath.Join(l.saveDir, fmt.Sprintf("%06d.http", l.count))
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
	header := l.signatureHeader()
	switch {
	case h.Get(header) == "" && h.Get("webhook-signature") != "":
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
