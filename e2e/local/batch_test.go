package local_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/webhook"
)

// batchLines are 100 NDJSON events for a batch send: every tenth misses its type, one has a bad user id,
// line 22 repeats line 21's key and request, line 23 reuses it with another payload. It returns the lines
// and, per line (from 1), the error code expected ("" for an accepted event).
func batchLines() (string, map[int]string) {
	var b strings.Builder
	want := map[int]string{}
	for n := 1; n <= 100; n++ {
		ev := map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": n}}
		switch {
		case n%10 == 4:
			ev["type"] = ""
			want[n] = "missing_type"
		case n == 50:
			ev["userId"] = "not a user id"
			want[n] = "invalid_user_id"
		case n == 21 || n == 22:
			ev["payload"], ev["idempotencyKey"] = map[string]int{"n": 21}, "key-21"
		case n == 23:
			ev["idempotencyKey"] = "key-21"
			want[n] = "idempotency_key_reused"
		}
		line, _ := json.Marshal(ev)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String(), want
}

// TestServe_BatchSend sends 100 events through `outhook send --batch -` to the real server: the invalid ones
// are answered with their error, the others are delivered once each and signed.
func TestServe_BatchSend(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	rc := newReceiver(t, nil)
	key := []byte("0123456789abcdef0123456789abcdef")
	cfg := writeConfig(t, dir, fmt.Sprintf(`
sets:
  - name: billing
    endpoints:
      - name: std
        url: %s/std
        allowPrivateNetwork: true
        signing:
          secret: STD_SECRET
`, rc.url))
	s := startServer(t, cfg, dir, "STD_SECRET=whsec_"+base64.StdEncoding.EncodeToString(key))

	lines, want := batchLines()
	cmd := exec.Command(binary, "send", "billing", "--batch", "-", "--json", "--url", s.url)
	cmd.Env = append(os.Environ(), "OUTHOOK_API_KEY="+apiKey)
	cmd.Stdin = strings.NewReader(lines)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.Error(t, err, "some events were refused: the command fails")
	require.Contains(t, stderr.String(), fmt.Sprintf("%d of 100 events were not accepted", len(want)))

	type outcome struct {
		Line     int    `json:"line"`
		EventID  string `json:"eventId"`
		Replayed bool   `json:"replayed"`
		Error    *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	events := map[string]bool{}
	byLine := map[int]outcome{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var o outcome
		require.NoError(t, json.Unmarshal(sc.Bytes(), &o), sc.Text())
		byLine[o.Line] = o
	}
	require.Len(t, byLine, 100, stdout.String())
	for n, o := range byLine {
		if code := want[n]; code != "" {
			require.NotNil(t, o.Error, "line %d", n)
			require.Equal(t, code, o.Error.Code, "line %d", n)
			require.Empty(t, o.EventID)
			continue
		}
		require.Nil(t, o.Error, "line %d", n)
		require.Regexp(t, `^whevt_`, o.EventID)
		require.Equal(t, n == 22, o.Replayed, "line %d", n)
		events[o.EventID] = true
	}
	require.Equal(t, byLine[21].EventID, byLine[22].EventID)
	require.Len(t, events, 100-len(want)-1, "one event per accepted line; line 22 answers line 21's")

	delivered := map[string]bool{}
	for _, d := range rc.wait(t, len(events), 60*time.Second) {
		require.NoError(t, signing.Verify(signing.Standard, d.header, d.body, [][]byte{key}, time.Minute, time.Now()))
		id := d.header.Get("webhook-id")
		require.True(t, events[id], "a delivery of an event the batch answered: %s", id)
		delivered[id] = true
	}
	require.Len(t, delivered, len(events), "every accepted event delivered")
	for id := range events {
		s.waitEvent(t, "billing", id, webhook.StatusDelivered, 30*time.Second)
	}
	require.Len(t, rc.deliveries(), len(events), "each event delivered once")
}
