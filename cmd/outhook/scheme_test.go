package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/client"
	"github.com/outhook/outhook/shared/local/localserver/localservertest"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/verify"
)

// TestSchemes_SenderReceiverAndCLIAgree sends one event to an endpoint per shape of signing block, signed by
// the local server from the raw config block, and verifies every delivery with the receiver package (given
// the same raw block) and with `outhook verify --scheme` (given the same keys): the three read one resolver.
func TestSchemes_SenderReceiverAndCLIAgree(t *testing.T) {
	t.Parallel()
	const named = "named-raw-secret"
	shapes := []struct {
		name  string
		block [][2]string // the block's keys as written in the config, in order; nil: no signing block
	}{
		{"no-block", nil},
		{"secret-only", [][2]string{}},
		{"header-only", [][2]string{{"header", "x-sig"}}},
		{"header-timestamp", [][2]string{{"header", "x-sig"}, {"timestampHeader", "x-ts"}}},
		{"raw-body", [][2]string{{"header", "x-sig"}, {"timestampHeader", "x-ts"}, {"signedPayload", "rawBody"}}},
		{"timestamp-raw-body", [][2]string{{"header", "x-sig"}, {"timestampHeader", "x-ts"}, {"signedPayload", "timestamp.rawBody"}}},
		{"id-timestamp-raw-body", [][2]string{{"header", "x-sig"}, {"timestampHeader", "x-ts"}, {"signedPayload", "id.timestamp.rawBody"}}},
		{"hex", [][2]string{{"header", "x-sig"}, {"encoding", "hex"}}},
		{"base64", [][2]string{{"header", "x-sig"}, {"encoding", "base64"}, {"algorithm", "hmac-sha256"}}},
	}
	dir := t.TempDir()
	recv := &saver{dir: dir}
	rs := httptest.NewServer(recv)
	t.Cleanup(rs.Close)
	var cfg strings.Builder
	cfg.WriteString("sets:\n  - name: shapes\n    endpoints:\n")
	for _, sh := range shapes {
		fmt.Fprintf(&cfg, "      - {name: %s, url: %q, allowPrivateNetwork: true", sh.name, rs.URL+"/"+sh.name)
		if sh.block != nil {
			cfg.WriteString(", signing: {secret: NAMED")
			for _, kv := range sh.block {
				fmt.Fprintf(&cfg, ", %s: %q", kv[0], kv[1])
			}
			cfg.WriteString("}")
		}
		cfg.WriteString("}\n")
	}
	srv := localservertest.Start(t, cfg.String(), localservertest.Secrets{"NAMED": named})

	code, _, errOut := cli(t, srv, "", "send", "shapes", "shape.checked", "--data", `{"n":1}`, "--user", "user_1")
	require.Equal(t, 0, code, errOut)
	files := recv.wait(t, len(shapes))
	c, err := client.New(srv.URL, client.WithAPIKey(localservertest.APIKey))
	require.NoError(t, err)
	us, err := c.Set("shapes").Secrets.Get(t.Context(), "user_1")
	require.NoError(t, err)

	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			var file string
			for _, f := range files {
				if strings.HasPrefix(filepath.Base(f), sh.name+"-") {
					file = f
				}
			}
			require.NotEmpty(t, file, "the delivery to %s", sh.name)
			secret, wrong := named, "another-secret"
			if sh.block == nil {
				secret, wrong = us.Current.Value, "whcms_AAAA"
			}

			// The receiver package, given the raw block.
			var block *signing.Block
			var flag []string
			if len(sh.block) > 0 {
				block = &signing.Block{}
				var pairs []string
				for _, kv := range sh.block {
					switch kv[0] {
					case "header":
						block.Header = kv[1]
					case "timestampHeader":
						block.TimestampHeader = kv[1]
					case "signedPayload":
						block.SignedPayload = signing.Payload(kv[1])
					case "encoding":
						block.Encoding = signing.Encoding(kv[1])
					case "algorithm":
						block.Algorithm = signing.Algorithm(kv[1])
					}
					pairs = append(pairs, kv[0]+"="+kv[1])
				}
				flag = []string{"--scheme", strings.Join(pairs, ",")}
			}
			data, err := os.ReadFile(file)
			require.NoError(t, err)
			h, body, err := readSavedRequest(strings.NewReader(string(data)))
			require.NoError(t, err)
			require.NoError(t, verify.Payload(h, body, verify.Options{Secrets: []string{secret}, Scheme: block, Tolerance: -1}))
			require.ErrorIs(t, verify.Payload(h, body, verify.Options{Secrets: []string{wrong}, Scheme: block, Tolerance: -1}),
				verify.ErrNoMatch)

			// The CLI, given the same keys.
			code, out, errOut := cli(t, srv, "", append(append([]string{"verify", "--secret", secret}, flag...), file)...)
			require.Equal(t, 0, code, errOut)
			require.Contains(t, out, "verified")
			code, _, _ = cli(t, srv, "", append(append([]string{"verify", "--secret", wrong}, flag...), file)...)
			require.Equal(t, exitVerifyFailed, code)
		})
	}

	// The test tells schemes apart: the header-only delivery (the body alone, base64) does not verify as hex,
	// nor as the body bound to an id and timestamp.
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "header-only-") {
			continue
		}
		require.Equal(t, exitVerifyFailed, first(cli(t, srv, "", "verify", "--secret", named, "--scheme", "header=x-sig,encoding=hex", f)))
		require.Equal(t, exitVerifyFailed, first(cli(t, srv, "", "verify", "--secret", named, "--scheme",
			"header=x-sig,timestampHeader=webhook-timestamp", f)))
	}
}

func first(code int, _, _ string) int { return code }
