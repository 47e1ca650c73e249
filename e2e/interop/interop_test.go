package interop_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
)

const (
	crmSecret     = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	partnerSecret = "partner-signing-secret-raw-bytes"
)

// capture is a receiver that answers 204 and keeps every delivery by path.
type capture struct {
	mu  sync.Mutex
	got map[string][]delivery
}

type delivery struct {
	header http.Header
	body   []byte
}

func (c *capture) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.got[r.URL.Path] = append(c.got[r.URL.Path], delivery{header: r.Header.Clone(), body: body})
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the first n deliveries to path.
func (c *capture) wait(t *testing.T, path string, n int) []delivery {
	t.Helper()
	var got []delivery
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		got = append([]delivery(nil), c.got[path]...)
		return len(got) >= n
	}, 15*time.Second, 10*time.Millisecond, "fewer than %d deliveries to %s", n, path)
	return got[:n]
}

// verdict is what the scripts answer per case.
type verdict struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

// run feeds cases to an external verifier and returns its verdicts.
func run(t *testing.T, cmd *exec.Cmd, cases any) []verdict {
	t.Helper()
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s: %s", cmd, stderr.String())
	var v []verdict
	require.NoError(t, json.Unmarshal(out, &v), "%s answered %q", cmd, out)
	return v
}

// headerMap flattens a header as a receiver's framework shows it (one value per name).
func headerMap(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k := range h {
		m[strings.ToLower(k)] = h.Get(k)
	}
	return m
}

func node(t *testing.T) *exec.Cmd {
	t.Helper()
	bin, err := exec.LookPath("node")
	require.NoError(t, err, "node not found: install Node.js 18+ (Debian: apt-get install nodejs npm), then run `make interop-deps`")
	_, err = os.Stat(filepath.Join("node_modules", "standardwebhooks", "package.json"))
	require.NoError(t, err, "the npm package standardwebhooks is not installed: run `make interop-deps` (npm ci in e2e/interop)")
	return exec.Command(bin, "verify.mjs")
}

func python(t *testing.T) *exec.Cmd {
	t.Helper()
	if venv := os.Getenv("OUTHOOK_VENV"); venv != "" {
		if bin := filepath.Join(venv, "bin", "python"); fileExists(bin) {
			return exec.Command(bin, "verify_hex.py")
		}
	}
	bin, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 not found: install Python 3.9+ (Debian: apt-get install python3), or run `make venv` and set OUTHOOK_VENV")
	return exec.Command(bin, "verify_hex.py")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestInterop_SignaturesVerifyWithIndependentImplementations sends events through the real local server
// and has the captured deliveries verified by the npm standardwebhooks package (default scheme, with a
// named whsec_ secret and with a user's whcms_ secret, before and during a rotation) and by a Python
// standard-library HMAC check (hex + timestamp.rawBody). Tampered copies must fail in both, so that the
// checks are known to check.
func TestInterop_SignaturesVerifyWithIndependentImplementations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node and python: skipped with -short")
	}
	t.Parallel()
	nodeCmd, pythonCmd := node(t), python(t)
	ctx := context.Background()

	rec := &capture{got: map[string][]delivery{}}
	recv := httptest.NewServer(rec)
	t.Cleanup(recv.Close)
	srv := localservertest.Start(t, `
sets:
  - name: billing-events
    endpoints:
      - name: crm
        url: `+recv.URL+`/crm
        allowPrivateNetwork: true
        signing: {secret: CRM_WEBHOOK_SIGNING_SECRET}
  - name: customer-events
    endpoints:
      - name: customer
        url: `+recv.URL+`/customer
        allowPrivateNetwork: true
  - name: partner-events
    endpoints:
      - name: partner
        url: `+recv.URL+`/partner
        allowPrivateNetwork: true
        signing:
          header: x-partner-signature
          timestampHeader: x-partner-timestamp
          signedPayload: timestamp.rawBody
          algorithm: hmac-sha256
          encoding: hex
          secret: PARTNER_SIGNING_SECRET
`, localservertest.Secrets{"CRM_WEBHOOK_SIGNING_SECRET": crmSecret, "PARTNER_SIGNING_SECRET": partnerSecret})

	c, err := client.New(srv.URL, client.WithAPIKey(localservertest.APIKey))
	require.NoError(t, err)
	payload := map[string]any{"invoiceId": "in_1", "note": "ünïcödé & <tags>", "amount": 4200}

	_, err = c.Set("billing-events").Send(ctx, "invoice.paid", payload)
	require.NoError(t, err)
	_, err = c.Set("customer-events").Send(ctx, "customer.updated", payload, client.WithUserID("user_123"))
	require.NoError(t, err)
	_, err = c.Set("partner-events").Send(ctx, "invoice.paid", payload)
	require.NoError(t, err)

	crm := rec.wait(t, "/crm", 1)[0]
	customer := rec.wait(t, "/customer", 1)[0]
	partner := rec.wait(t, "/partner", 1)[0]

	// Rotate the user's secret and send again: the delivery carries two signatures, each verifies.
	before, err := c.Set("customer-events").Secrets.Get(ctx, "user_123")
	require.NoError(t, err)
	rotated, err := c.Set("customer-events").Secrets.Rotate(ctx, "user_123")
	require.NoError(t, err)
	_, err = c.Set("customer-events").Send(ctx, "customer.updated", payload, client.WithUserID("user_123"))
	require.NoError(t, err)
	during := rec.wait(t, "/customer", 2)[1]
	require.Len(t, strings.Fields(during.header.Get("webhook-signature")), 2)

	type jsCase struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Secret  string            `json:"secret"`
	}
	js := func(d delivery, secret string) jsCase {
		return jsCase{headerMap(d.header), base64.StdEncoding.EncodeToString(d.body), secret}
	}
	tampered := func(d delivery) delivery {
		return delivery{header: d.header, body: bytes.Replace(d.body, []byte("in_1"), []byte("in_2"), 1)}
	}
	got := run(t, nodeCmd, []jsCase{
		js(crm, crmSecret),
		js(customer, before.Current.Value),
		js(during, before.Current.Value),
		js(during, rotated.Current.Value),
		js(tampered(crm), crmSecret),
		js(customer, rotated.Current.Value), // signed before the rotation: not with the new secret
	})
	require.Equal(t, []verdict{{OK: true}, {OK: true}, {OK: true}, {OK: true},
		{Error: "No matching signature found"}, {Error: "No matching signature found"}}, got)

	type pyCase struct {
		Headers         map[string]string `json:"headers"`
		Body            string            `json:"body"`
		Secret          string            `json:"secret"`
		Header          string            `json:"header"`
		TimestampHeader string            `json:"timestampHeader"`
	}
	py := func(d delivery, secret string) pyCase {
		return pyCase{headerMap(d.header), base64.StdEncoding.EncodeToString(d.body), secret, "x-partner-signature", "x-partner-timestamp"}
	}
	require.Regexp(t, `^[0-9a-f]{64}$`, partner.header.Get("x-partner-signature"))
	got = run(t, pythonCmd, []pyCase{
		py(partner, partnerSecret),
		py(tampered(partner), partnerSecret),
		py(partner, "another-secret"),
	})
	require.Equal(t, []verdict{{OK: true}, {Error: "no signature matches"}, {Error: "no signature matches"}}, got)
}
