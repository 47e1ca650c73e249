package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
)

func TestService_SendBatch(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r), endpoint("b", r)}})
	ctx := context.Background()
	before := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{"n":"before"}`), IdempotencyKey: "seen"})

	var reqs []SendRequest
	for i := range MaxBatchEvents {
		reqs = append(reqs, SendRequest{Type: "t", Payload: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
	}
	reqs[3].Type = ""                                                                                    // invalid
	reqs[4].Payload = json.RawMessage(`{"n":`)                                                           // invalid
	reqs[5] = SendRequest{Type: "t", Payload: json.RawMessage(`{"n":"before"}`), IdempotencyKey: "seen"} // replays the earlier call
	reqs[6] = SendRequest{Type: "t", Payload: json.RawMessage(`{"n":6}`), IdempotencyKey: "k6"}
	reqs[7] = SendRequest{Type: "t", Payload: json.RawMessage(`{ "n": 6 }`), IdempotencyKey: "k6"} // repeats entry 6
	reqs[8] = SendRequest{Type: "t", Payload: json.RawMessage(`{"n":8}`), IdempotencyKey: "k6"}    // reuses its key
	out, err := b.svc.SendBatch(ctx, "s", reqs)
	require.NoError(t, err)
	require.Len(t, out, MaxBatchEvents)

	requireCode(t, out[3].Err, ErrInvalid, "missing_type")
	requireCode(t, out[4].Err, ErrInvalid, "invalid_payload")
	requireCode(t, out[8].Err, ErrConflict, "idempotency_key_reused")
	require.NoError(t, out[5].Err)
	require.True(t, out[5].Result.Replayed)
	require.Equal(t, before.EventID, out[5].Result.EventID)
	require.NoError(t, out[6].Err)
	require.False(t, out[6].Result.Replayed)
	require.NoError(t, out[7].Err)
	require.True(t, out[7].Result.Replayed)
	require.Equal(t, out[6].Result.EventID, out[7].Result.EventID)
	require.Equal(t, out[6].Result.Deliveries, out[7].Result.Deliveries)
	ids := map[string]bool{}
	for i, e := range out {
		if i == 3 || i == 4 || i == 8 {
			continue
		}
		require.NoError(t, e.Err, "entry %d", i)
		require.Len(t, e.Result.Deliveries, 2)
		ids[e.Result.EventID] = true
	}
	require.Len(t, ids, MaxBatchEvents-4, "one event per valid entry but the repeat (entry 5 answers the earlier send's)")

	require.Equal(t, 2*len(ids), b.pump(t), "every delivery of every accepted event, once")
	require.Equal(t, 2*len(ids), r.count())
	for id := range ids {
		ev, err := b.svc.GetEvent(ctx, "s", id)
		require.NoError(t, err)
		require.Equal(t, StatusDelivered, ev.Status, id)
	}
}

func TestService_SendBatchRefusesTheWholeBatch(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r)}})
	ctx := context.Background()
	_, err := b.svc.SendBatch(ctx, "s", nil)
	requireCode(t, err, ErrInvalid, "invalid_batch_size")
	_, err = b.svc.SendBatch(ctx, "s", make([]SendRequest, MaxBatchEvents+1))
	requireCode(t, err, ErrInvalid, "invalid_batch_size")
	_, err = b.svc.SendBatch(ctx, "nope", []SendRequest{{Type: "t", Payload: json.RawMessage(`1`)}})
	require.ErrorIs(t, err, ErrNotFound)
}

func TestService_SendBatchAnswersNoEventWhenTheQueueFails(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("a", r)}})
	ctx := context.Background()
	reqs := []SendRequest{
		{Type: "t", Payload: json.RawMessage(`1`), IdempotencyKey: "k1"},
		{Type: "", Payload: json.RawMessage(`2`)},
	}
	b.queue.fail.Store(1)
	out, err := b.svc.SendBatch(ctx, "s", reqs)
	require.NoError(t, err)
	var apiErr *Error
	require.Error(t, out[0].Err)
	require.False(t, errors.As(out[0].Err, &apiErr), "an outage is a server error, not the client's")
	requireCode(t, out[1].Err, ErrInvalid, "missing_type")
	require.Equal(t, 0, b.pump(t), "nothing was queued")

	out, err = b.svc.SendBatch(ctx, "s", reqs[:1]) // the client's retry with the same key
	require.NoError(t, err)
	require.NoError(t, out[0].Err)
	require.True(t, out[0].Result.Replayed)
	require.Equal(t, 1, b.pump(t))
	require.Equal(t, 1, r.count())
}
