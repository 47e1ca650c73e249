package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/outhook/outhook/shared/verify"
)

var verifyCommand = &command{
	name:    "verify",
	summary: "check the signature of a saved webhook request (exit 4 if it does not verify)",
	synopsis: "verify --secret S [--secret S2] [--scheme standard|header=NAME,...] [--tolerance D] FILE\n\n" +
		"FILE (or - for stdin) is a saved request: either the raw HTTP request as `outhook listen --save DIR` writes it\n" +
		"(request line, headers, blank line, body), or JSON {\"headers\": {\"name\": \"value\", ...}, \"body\": \"raw body\"}.\n" +
		"--scheme takes the same syntax as in outhook listen: the endpoint's signing block as key=value pairs\n" +
		"(default: the Standard Webhooks scheme: webhook-id, webhook-timestamp, webhook-signature).",
}

// maxSavedRequest bounds the saved request read (the payload limit is 256 KiB).
const maxSavedRequest = 4 << 20

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runVerify(_ context.Context, e *env, args []string) error {
	fs := verifyCommand.flags(e)
	var secrets stringList
	fs.Var(&secrets, "secret", "a signing secret (whsec_..., whcms_..., or raw); repeat to try several")
	scheme := newSchemeFlag()
	fs.Var(scheme, "scheme", schemeUsage)
	tolerance := fs.Duration("tolerance", 0, "also require the timestamp within this duration of now (default: not checked, since a saved request is old)")
	pos, err := parseArgs(fs, args, "FILE")
	if err != nil {
		return err
	}
	if len(secrets) == 0 {
		return usagef("missing --secret")
	}
	var in io.Reader = e.stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return usagef("%s", err)
		}
		defer f.Close()
		in = f
	}
	h, body, err := readSavedRequest(in)
	if err != nil {
		return err
	}
	opts := verify.Options{Secrets: secrets, Scheme: scheme.block, Tolerance: -1}
	if *tolerance > 0 {
		opts.Tolerance = *tolerance
	}
	if err := verify.Payload(h, body, opts); err != nil {
		var verr *verify.Error
		if errors.As(err, &verr) {
			return exitError{code: exitVerifyFailed, err: fmt.Errorf("verification failed: %w", err)}
		}
		return err
	}
	id := h.Get("webhook-id")
	if id == "" {
		id = "-"
	}
	fmt.Fprintf(e.stdout, "verified: the signature matches (webhook-id %s, %d-byte body)\n", id, len(body))
	return nil
}

// readSavedRequest reads a saved request: JSON {"headers", "body"} or a raw HTTP/1.1 request.
func readSavedRequest(in io.Reader) (http.Header, []byte, error) {
	data, err := io.ReadAll(io.LimitReader(in, maxSavedRequest+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read saved request: %w", err)
	}
	if len(data) > maxSavedRequest {
		return nil, nil, usagef("the saved request is over %d bytes", maxSavedRequest)
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		var saved struct {
			Headers map[string]string `json:"headers"`
			Body    *string           `json:"body"`
		}
		if err := json.Unmarshal(trimmed, &saved); err != nil || saved.Body == nil {
			return nil, nil, usagef("the saved request is JSON but not {\"headers\": {...}, \"body\": \"...\"}")
		}
		h := http.Header{}
		for k, v := range saved.Headers {
			h.Set(k, v)
		}
		return h, []byte(*saved.Body), nil
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return nil, nil, usagef("the saved request is neither JSON nor a raw HTTP request: %s", err)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, nil, usagef("read the saved request's body: %s", err)
	}
	return req.Header, body, nil
}

var _ flag.Value = (*stringList)(nil)
