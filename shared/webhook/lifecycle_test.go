package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/store"
)

// TestService_ReplaysOfAQueuedSendPostOnce: replaying an Idempotency-Key while the first delivery is still
// queued queues nothing again, so the receiver gets one POST (it got 11 for 10 replays when each replay
// queued the delivery again and the copies, carrying their event, did not look for the attempt first): the
// event, written after its messages were queued, tells the replays that they are.
func TestService_ReplaysOfAQueuedSendPostOnce(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{"small":true}`), IdempotencyKey: "order-7"}
	first := send(t, b, "s", req)
	for range 10 {
		again := send(t, b, "s", req)
		require.True(t, again.Replayed)
		require.Equal(t, first, SendResult{EventID: again.EventID, Deliveries: again.Deliveries})
	}
	ev, err := b.svc.GetEvent(context.Background(), "s", first.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusQueued, ev.Deliveries[0].Status)
	require.Equal(t, first.Deliveries[0].AttemptID, ev.Deliveries[0].NextAttemptID)
	require.Empty(t, ev.Deliveries[0].Attempts, "the note that the delivery is queued is not an attempt")

	require.Equal(t, 1, b.pump(t), "one message was queued")
	require.Equal(t, 1, r.count())
	ev, err = b.svc.GetEvent(context.Background(), "s", first.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, first.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[0].ID)
	require.Empty(t, ev.Deliveries[0].NextAttemptID)
}

// TestService_ReplayOfALegacyKey: a key reserved by an earlier version of outhook (with its event, before the
// messages were queued; SQLite keys migrated from then carry no request hash). That call queued its message
// and died before noting it queued; the replay queues a recovery job, which finds the attempt made by the
// first message and does not make it again. A replay of another request is refused by the event's hash.
func TestService_ReplayOfALegacyKey(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	ctx := context.Background()
	req := SendRequest{Type: "t", Payload: json.RawMessage(`{}`), IdempotencyKey: "k"}
	// What the first call did before dying: store the event with its key and queue its message.
	ev := store.Event{ID: "whevt_01KB9Z3Q5G0000000000000000", Set: "s", Type: req.Type, Payload: req.Payload,
		IdempotencyKey: req.IdempotencyKey, RequestHash: requestHash(req.Type, "", req.Payload), CreatedAt: start,
		ExpiresAt:  start.Add(config.DefaultRetentionDays * 24 * 3600e9),
		Deliveries: []store.Delivery{{Endpoint: "e", URL: r.srv.URL + "/e", FirstAttemptID: "whatt_01KB9Z3Q5G0000000000000001"}}}
	legacy := ev
	legacy.RequestHash = ""
	_, err := b.db.Store().ReserveKey(ctx, legacy)
	require.NoError(t, err)
	_, err = b.db.Store().CreateEvent(ctx, ev)
	require.NoError(t, err)
	require.NoError(t, b.svc.enqueue(ctx, firstJob(ev, ev.Deliveries[0], time.Time{})))

	_, err = b.svc.Send(ctx, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{"other":1}`), IdempotencyKey: "k"})
	requireCode(t, err, ErrConflict, "idempotency_key_reused")
	res := send(t, b, "s", req)
	require.True(t, res.Replayed)
	require.Equal(t, ev.ID, res.EventID)
	require.Equal(t, 2, b.pump(t), "the first call's message and the replay's recovery job")
	require.Equal(t, 1, r.count(), "the recovery job found the attempt made")
	got, err := b.svc.GetEvent(ctx, "s", ev.ID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, got.Status)
	require.Len(t, got.Deliveries[0].Attempts, 1)
}

// failedDelivery sends an event to set s, whose one endpoint e answers 500 and is tried once, and processes
// it: the delivery has failed. It returns the bundle, the receiver and the send's result.
func failedDelivery(t *testing.T) (*bundle, *receiver, SendResult) {
	t.Helper()
	r := newReceiver(t, 500)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.Retry = &config.Retry{Attempts: 1}
	})}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	return b, r, res
}

// TestService_ResendClaimsTheDelivery: of two resends of a failed delivery, the second answers
// delivery_in_progress, and the id the first answered is the id its attempt is recorded under.
func TestService_ResendClaimsTheDelivery(t *testing.T) {
	t.Parallel()
	b, _, res := failedDelivery(t)
	ctx := context.Background()

	first, err := b.svc.Resend(ctx, "s", res.EventID, "e")
	require.NoError(t, err)
	_, err = b.svc.Resend(ctx, "s", res.EventID, "e")
	requireCode(t, err, ErrConflict, "delivery_in_progress")
	_, err = b.svc.Resend(ctx, "s", res.EventID, "")
	requireCode(t, err, ErrConflict, "nothing_to_resend")
	ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusQueued, ev.Deliveries[0].Status)
	require.Equal(t, first.Deliveries[0].AttemptID, ev.Deliveries[0].NextAttemptID)
	require.NotNil(t, ev.Deliveries[0].NextAttemptAt)

	require.Equal(t, 1, b.pump(t))
	ev, err = b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, []int{500, 200}, statuses(ev.Deliveries[0]))
	require.Equal(t, first.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[1].ID)
}

// TestService_ConcurrentResends: of many resends at once, one answers 202; the others answer
// delivery_in_progress; one message is queued.
func TestService_ConcurrentResends(t *testing.T) {
	t.Parallel()
	b, r, res := failedDelivery(t)
	ctx := context.Background()

	const n = 10
	results := make([]SendResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = b.svc.Resend(ctx, "s", res.EventID, "e") })
	}
	wg.Wait()
	var ids []string
	for i, err := range errs {
		if err == nil {
			ids = append(ids, results[i].Deliveries[0].AttemptID)
			continue
		}
		requireCode(t, err, ErrConflict, "delivery_in_progress")
	}
	require.Len(t, ids, 1, "one resend claims the delivery")
	require.Equal(t, 1, b.pump(t))
	ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, ids[0], ev.Deliveries[0].Attempts[1].ID)
	require.Equal(t, 2, r.count())
}

// TestService_ResendThatCannotBeQueued: the claim is ended as a failed attempt not made, so the delivery
// can be resent again, and the answered error is a server error.
func TestService_ResendThatCannotBeQueued(t *testing.T) {
	t.Parallel()
	b, _, res := failedDelivery(t)
	ctx := context.Background()

	b.queue.fail.Store(1)
	_, err := b.svc.Resend(ctx, "s", res.EventID, "e")
	require.Error(t, err)
	var apiErr *Error
	require.False(t, errors.As(err, &apiErr))
	ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	d := ev.Deliveries[0]
	require.Equal(t, StatusFailed, d.Status)
	require.Equal(t, "not attempted: the resend could not be queued", d.Reason)
	require.Len(t, d.Attempts, 2)

	again, err := b.svc.Resend(ctx, "s", res.EventID, "e")
	require.NoError(t, err)
	require.Equal(t, 1, b.pump(t))
	ev, err = b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, again.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[2].ID)
}

// TestService_RequestHeadersAlwaysAnObject: an attempt whose request could not be built (its named secret
// cannot be read) records an empty object of headers, never null.
func TestService_RequestHeadersAlwaysAnObject(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r, func(ep *config.Endpoint) {
		ep.Retry = &config.Retry{Attempts: 1}
		ep.Signing = &config.Signing{Secret: "WEBHOOK_SERVICE_TEST_UNSET_SECRET"}
	})}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	b.pump(t)
	require.Equal(t, 0, r.count())
	ev, err := b.svc.GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	d := ev.Deliveries[0]
	require.Equal(t, StatusFailed, d.Status)
	require.Contains(t, d.Reason, "WEBHOOK_SERVICE_TEST_UNSET_SECRET")
	out, err := json.Marshal(d.Attempts[0])
	require.NoError(t, err)
	require.Contains(t, string(out), `"requestHeaders":{}`)

	// Attempts recorded with no headers by older versions read as an empty object too.
	rec, err := b.db.Store().GetEvent(context.Background(), "s", res.EventID)
	require.NoError(t, err)
	rec.Attempts[0].RequestHeaders = nil
	require.NotNil(t, view(rec).Deliveries[0].Attempts[0].RequestHeaders)
}

// TestService_EndsDeliveriesWhoseTargetIsGone: a delivery whose endpoint or set is no longer configured
// ends failed with the reason, and can be resent (it is delivered once the endpoint is back).
func TestService_EndsDeliveriesWhoseTargetIsGone(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	kept, removed := endpoint("kept", r), endpoint("removed", r)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{kept, removed}},
		config.Set{Name: "old", Endpoints: []config.Endpoint{kept}})
	ctx := context.Background()
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	oldRes := send(t, b, "old", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})

	// The config changes: the endpoint "removed" and the set "old" are gone.
	after := b.withConfig(t, config.Set{Name: "s", Endpoints: []config.Endpoint{kept}})
	require.Equal(t, 3, b.pumpWith(t, after))
	require.Equal(t, 1, r.count(), "only the kept endpoint got a POST")

	ev, err := after.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	d := ev.Deliveries[1]
	require.Equal(t, StatusFailed, d.Status)
	require.Equal(t, `not attempted: the endpoint "removed" is no longer configured in set "s"`, d.Reason)
	require.Len(t, d.Attempts, 1)
	require.Equal(t, res.Deliveries[1].AttemptID, d.Attempts[0].ID, "the answered id is the id recorded")
	require.NotNil(t, d.Attempts[0].RequestHeaders)

	// The old set's event is not visible through the new config, but its delivery ended: with the set back,
	// it reads failed with its reason.
	oldEv, err := b.svc.GetEvent(ctx, "old", oldRes.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, oldEv.Status)
	require.Equal(t, `not attempted: the webhook set "old" is no longer configured`, oldEv.Deliveries[0].Reason)

	// Resendable: with the endpoint back (the first config), the resend is delivered.
	again, err := b.svc.Resend(ctx, "s", res.EventID, "")
	require.NoError(t, err)
	require.Len(t, again.Deliveries, 1)
	require.Equal(t, 1, b.pump(t))
	require.Equal(t, 2, r.count())
	ev, err = b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
}

// TestService_Abandon: a message given up after too many receives ends its delivery as failed with the
// reason, which can then be resent; a message whose attempt is recorded is only acknowledged.
func TestService_Abandon(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	ctx := context.Background()
	for _, payload := range []json.RawMessage{json.RawMessage(`{}`), largePayload()} {
		res := send(t, b, "s", SendRequest{Type: "t", Payload: payload})
		msgs, err := b.queue.Receive(ctx, 10, 0)
		require.NoError(t, err)
		require.Len(t, msgs, 1)
		require.NoError(t, b.svc.Abandon(ctx, msgs[0].Body, 5, errors.New("store unavailable")))
		require.NoError(t, b.queue.Delete(ctx, msgs[0].Receipt))
		ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
		require.NoError(t, err)
		require.Equal(t, StatusFailed, ev.Status)
		require.Equal(t, "not attempted: its queue message failed 5 times: store unavailable", ev.Deliveries[0].Reason)
		require.Equal(t, 0, r.count())

		// Abandoning it again (a duplicate message) changes nothing.
		require.NoError(t, b.svc.Abandon(ctx, msgs[0].Body, 5, errors.New("again")))
		_, err = b.svc.Resend(ctx, "s", res.EventID, "")
		require.NoError(t, err)
		require.Equal(t, 1, b.pump(t))
		require.Equal(t, 1, r.count())
		r.reset()
	}

	require.NoError(t, b.svc.Abandon(ctx, []byte("not a job"), 5, errors.New("x")), "nothing to end: dropped")
	require.ErrorIs(t, b.svc.Abandon(ctx, []byte(`{"v":99,"set":"s","eventId":"e","endpoint":"e","attempt":1,"attemptId":"a"}`), 5,
		errors.New("x")), errNewerJob, "kept for the version that wrote it")
}

func largePayload() json.RawMessage {
	return json.RawMessage(`"` + strings.Repeat("x", inlinePayloadMax) + `"`)
}

// withConfig builds a second service over the same database with another config, as after a redeploy.
func (b *bundle) withConfig(t *testing.T, sets ...config.Set) *Service {
	t.Helper()
	cfg, err := (&config.Config{Sets: sets}).Validate()
	require.NoError(t, err)
	svc, err := New(Options{
		Config: cfg, Store: b.db.Store(), Queue: b.queue, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)
	return svc
}
