//go:build linux

package lambda

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/webhook"
)

// TestLambda_BatchSend sends 100 events in one batch through the send function: the invalid entries are
// answered with their error, a key seen before replays, a key repeated in the batch answers its first entry,
// and every accepted event is delivered once, signed.
func TestLambda_BatchSend(t *testing.T) {
	t.Parallel()
	s, rcv := crmStack(t)
	send, query := s.start(variantProd, "send"), s.start(variantProd, "query")

	var before webhook.SendResult
	send.call(t, http.MethodPost, "/v1/webhooks/billing/events", map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": 0}},
		"Idempotency-Key", "seen").decode(t, http.StatusAccepted, &before)

	events := make([]map[string]any, 100)
	want := map[int]string{} // entry -> the error code expected
	for i := range events {
		events[i] = map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": i + 1}}
		switch {
		case i%10 == 3:
			delete(events[i], "type")
			want[i] = "missing_type"
		case i == 50:
			events[i]["userId"] = "not a user id"
			want[i] = "invalid_user_id"
		case i == 60:
			events[i] = map[string]any{"type": "invoice.paid", "payload": map[string]int{"n": 0}, "idempotencyKey": "seen"}
		case i == 20 || i == 21:
			events[i]["payload"], events[i]["idempotencyKey"] = map[string]int{"n": 20}, "k20"
		case i == 22:
			events[i]["idempotencyKey"] = "k20"
			want[i] = "idempotency_key_reused"
		}
	}
	var res struct {
		Results []struct {
			EventID    string                   `json:"eventId"`
			Deliveries []webhook.QueuedDelivery `json:"deliveries"`
			Replayed   bool                     `json:"replayed"`
			Error      *struct{ Code string }   `json:"error"`
		} `json:"results"`
	}
	send.call(t, http.MethodPost, "/v1/webhooks/billing/events/batch", map[string]any{"events": events}).
		decode(t, http.StatusAccepted, &res)
	require.Len(t, res.Results, 100)
	accepted := map[string]bool{}
	for i, r := range res.Results {
		if code := want[i]; code != "" {
			require.NotNil(t, r.Error, "entry %d", i)
			require.Equal(t, code, r.Error.Code, "entry %d", i)
			continue
		}
		require.Nil(t, r.Error, "entry %d", i)
		require.Len(t, r.Deliveries, 1)
		require.Equal(t, i == 21 || i == 60, r.Replayed, "entry %d", i)
		accepted[r.EventID] = true
	}
	require.Equal(t, before.EventID, res.Results[60].EventID)
	require.Equal(t, res.Results[20].EventID, res.Results[21].EventID)
	require.Len(t, accepted, 100-len(want)-1, "one event per accepted entry; entry 21 answers entry 20's")

	require.Eventually(t, func() bool { return len(rcv.distinct()) == len(accepted) }, 60*time.Second, 100*time.Millisecond,
		"every accepted event delivered")
	s.waitQueueEmpty(t)
	got := rcv.requests("/crm")
	require.Len(t, got, len(accepted), "each event delivered once")
	for _, g := range got {
		require.True(t, accepted[g.header.Get("webhook-id")], g.header.Get("webhook-id"))
		verifies(t, crmSigning, g, []byte(crmSecretValue))
	}
	for _, id := range []string{before.EventID, res.Results[0].EventID, res.Results[99].EventID} {
		s.waitStatus(t, query, "billing", id, webhook.StatusDelivered, 30*time.Second)
	}

	bad := send.call(t, http.MethodPost, "/v1/webhooks/billing/events/batch", map[string]any{"events": make([]any, 101)})
	require.Equal(t, http.StatusBadRequest, bad.status, "%s", bad.body)
	require.Contains(t, string(bad.body), fmt.Sprintf(`"code":"%s"`, "invalid_batch_size"))
}
