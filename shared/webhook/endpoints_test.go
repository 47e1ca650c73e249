package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/egress"
	"github.com/outhook/outhook/shared/local/envsecret"
	"github.com/outhook/outhook/shared/signing"
	"github.com/outhook/outhook/shared/store"
)

// customerSet lets users register endpoints (on 127.0.0.1: allowPrivateNetwork), with a quick retry policy
// and the given auto-disable rule, next to one static endpoint.
func customerSet(static *receiver, auto *config.AutoDisable) config.Set {
	return config.Set{Name: "customer-events", OnEndpointDisabled: &config.EndpointDisabledHook{Set: "ops"},
		Endpoints: []config.Endpoint{endpoint("audit", static)},
		UserEndpoints: &config.UserEndpoints{Enabled: true, MaxPerUser: 3, AllowPrivateNetwork: true, AutoDisable: auto,
			Retry: &config.Retry{Attempts: 2, InitialDelaySeconds: 10, MaxDelaySeconds: 60}}}
}

func opsSet(r *receiver) config.Set {
	return config.Set{Name: "ops", Endpoints: []config.Endpoint{endpoint("pager", r)}}
}

func register(t *testing.T, b *bundle, user, name string, r *receiver, types ...string) Endpoint {
	t.Helper()
	ep, created, err := b.svc.PutUserEndpoint(context.Background(), "customer-events", user, name,
		EndpointRequest{URL: r.srv.URL + "/" + name, EventTypes: types, Description: "the " + name + " hook"})
	require.NoError(t, err)
	require.True(t, created)
	return ep
}

// restart builds a new Service on the same database, as a restarted server does.
func (b *bundle) restart(t *testing.T) {
	t.Helper()
	var err error
	b.svc, err = New(Options{
		Config: b.cfg, Store: b.db.Store(), Queue: b.queue, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(b.logs, nil)), CursorKey: []byte("test cursor key"),
	})
	require.NoError(t, err)
}

func deliveryOf(t *testing.T, b *bundle, eventID, endpoint string) Delivery {
	t.Helper()
	ev, err := b.svc.GetEvent(context.Background(), "customer-events", eventID)
	require.NoError(t, err)
	for _, d := range ev.Deliveries {
		if d.Endpoint == endpoint {
			return d
		}
	}
	t.Fatalf("event %s has no delivery to %s", eventID, endpoint)
	return Delivery{}
}

func TestService_UserEndpointsFanOutByTypeAndSignWithTheUsersSecret(t *testing.T) {
	t.Parallel()
	audit, invoices, users, bobs := newReceiver(t), newReceiver(t), newReceiver(t), newReceiver(t)
	b := setup(t, customerSet(audit, nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	ep := register(t, b, "alice", "invoices", invoices, "invoice.*")
	require.Equal(t, Endpoint{Name: "invoices", URL: invoices.srv.URL + "/invoices", EventTypes: []string{"invoice.*"},
		Description: "the invoices hook", UserID: "alice", Status: EndpointEnabled, CreatedAt: ep.CreatedAt,
		UpdatedAt: ep.UpdatedAt}, ep)
	register(t, b, "alice", "users", users, "user.created")
	register(t, b, "bob", "all", bobs)

	res := send(t, b, "customer-events", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{"n":1}`), UserID: "alice"})
	require.Len(t, res.Deliveries, 2)
	require.Equal(t, QueuedDelivery{Endpoint: "audit", Status: StatusQueued, AttemptID: res.Deliveries[0].AttemptID}, res.Deliveries[0])
	require.Equal(t, "invoices", res.Deliveries[1].Endpoint)
	require.Equal(t, "alice", res.Deliveries[1].UserID)
	send(t, b, "customer-events", SendRequest{Type: "user.created", Payload: json.RawMessage(`{"n":2}`), UserID: "alice"})
	send(t, b, "customer-events", SendRequest{Type: "order.shipped", Payload: json.RawMessage(`{"n":3}`), UserID: "alice"})
	send(t, b, "customer-events", SendRequest{Type: "invoice.paid", Payload: json.RawMessage(`{"n":4}`)})
	require.Equal(t, 4+1+1, b.pump(t))
	require.Equal(t, 4, audit.count())
	require.Equal(t, 1, invoices.count(), "only invoice.* of alice")
	require.Equal(t, 1, users.count(), "only user.created of alice")
	require.Equal(t, 0, bobs.count(), "bob's endpoints get only bob's events")

	secret, err := b.svc.UserSecret(ctx, "customer-events", "alice")
	require.NoError(t, err)
	key, err := signing.Key(secret.Current.Value)
	require.NoError(t, err)
	req, body := invoices.request(0)
	require.NoError(t, signing.Verify(signing.Standard, req.Header, body, [][]byte{key}, 5*time.Minute, b.clock.Now()))
	require.Contains(t, string(body), `"invoice.paid"`)
	d := deliveryOf(t, b, res.EventID, "invoices")
	require.Equal(t, StatusDelivered, d.Status)
	require.Equal(t, "alice", d.UserID)

	// Replacing keeps the endpoint (200, not 201) and applies to the next sends.
	_, created, err := b.svc.PutUserEndpoint(ctx, "customer-events", "alice", "invoices",
		EndpointRequest{URL: invoices.srv.URL + "/v2", EventTypes: []string{"order.*"}})
	require.NoError(t, err)
	require.False(t, created)
	send(t, b, "customer-events", SendRequest{Type: "order.shipped", Payload: json.RawMessage(`{"n":5}`), UserID: "alice"})
	b.pump(t)
	require.Equal(t, 2, invoices.count())
	req, _ = invoices.request(1)
	require.Equal(t, "/v2", req.URL.Path)

	list, err := b.svc.ListUserEndpoints(ctx, "customer-events", "alice")
	require.NoError(t, err)
	require.Len(t, list.Endpoints, 2)
	require.Equal(t, "invoices", list.Endpoints[0].Name)
	require.NotNil(t, list.Endpoints[0].Health.LastSuccessAt)
	static, err := b.svc.ListStaticEndpoints(ctx, "customer-events")
	require.NoError(t, err)
	require.Equal(t, []string{"*"}, static.Endpoints[0].EventTypes)
	require.Equal(t, EndpointEnabled, static.Endpoints[0].Status)
}

func TestService_PausedEndpointHoldsAcrossRestartAndResumeReleasesInOrder(t *testing.T) {
	t.Parallel()
	audit, hooks := newReceiver(t), newReceiver(t, 500)
	b := setup(t, customerSet(audit, nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)

	// The first delivery fails once and is retrying when the endpoint is paused: its retry is held too.
	first := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`0`), UserID: "alice"})
	msgs, err := b.queue.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	for _, m := range msgs {
		require.NoError(t, b.svc.Process(ctx, m.Body))
		require.NoError(t, b.queue.Delete(ctx, m.Receipt))
	}
	require.Equal(t, StatusRetrying, deliveryOf(t, b, first.EventID, "hooks").Status)

	paused, err := b.svc.PauseEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	require.Equal(t, EndpointPaused, paused.Status)
	var ids []string
	for i := range 20 {
		b.clock.Add(time.Millisecond)
		res := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i + 1)), UserID: "alice"})
		ids = append(ids, res.EventID)
	}
	b.pump(t)
	require.Equal(t, 1, hooks.count(), "nothing POSTed while paused")
	for _, id := range append([]string{first.EventID}, ids...) {
		d := deliveryOf(t, b, id, "hooks")
		require.Equal(t, StatusPaused, d.Status, id)
		ev, err := b.svc.GetEvent(ctx, "customer-events", id)
		require.NoError(t, err)
		require.Equal(t, StatusPending, ev.Status)
	}

	b.restart(t)
	resumed, err := b.svc.ResumeEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	require.Equal(t, EndpointEnabled, resumed.Status)
	require.Equal(t, StatusQueued, deliveryOf(t, b, ids[0], "hooks").Status, "released: queued again")
	b.pump(t)
	require.Equal(t, 22, hooks.count(), "every held delivery POSTed once")
	var order []string
	for i := 1; i < hooks.count(); i++ {
		_, body := hooks.request(i)
		var got struct{ ID string }
		require.NoError(t, json.Unmarshal(body, &got))
		order = append(order, got.ID)
	}
	require.Equal(t, append([]string{first.EventID}, ids...), order, "released in creation order")
	d := deliveryOf(t, b, first.EventID, "hooks")
	require.Equal(t, StatusDelivered, d.Status)
	require.Len(t, d.Attempts, 2, "holding used no attempt: the retry is attempt 2")
	for _, id := range ids {
		d := deliveryOf(t, b, id, "hooks")
		require.Equal(t, StatusDelivered, d.Status)
		require.Len(t, d.Attempts, 1)
	}

	// A static endpoint pauses and resumes the same way.
	_, err = b.svc.PauseEndpoint(ctx, "customer-events", "", "audit")
	require.NoError(t, err)
	held := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`99`)})
	before := audit.count()
	b.pump(t)
	require.Equal(t, before, audit.count())
	require.Equal(t, StatusPaused, deliveryOf(t, b, held.EventID, "audit").Status)
	static, err := b.svc.ListStaticEndpoints(ctx, "customer-events")
	require.NoError(t, err)
	require.Equal(t, EndpointPaused, static.Endpoints[0].Status)
	_, err = b.svc.ResumeEndpoint(ctx, "customer-events", "", "audit")
	require.NoError(t, err)
	b.pump(t)
	require.Equal(t, before+1, audit.count())
	require.Equal(t, StatusDelivered, deliveryOf(t, b, held.EventID, "audit").Status)
}

func TestService_AutoDisableSendsEndpointDisabledAndResumeReenables(t *testing.T) {
	t.Parallel()
	pager := newReceiver(t)
	failing := newReceiver(t, 500, 500, 500, 500, 500, 500)
	b := setup(t, customerSet(newReceiver(t), &config.AutoDisable{AfterFailedDeliveries: 3, AfterSeconds: 0}), opsSet(pager))
	ctx := context.Background()
	register(t, b, "alice", "hooks", failing)

	for i := range 3 {
		send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i)), UserID: "alice"})
		b.pump(t)
	}
	require.Equal(t, 6, failing.count(), "3 deliveries of 2 attempts each")
	ep, err := b.svc.GetUserEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	require.Equal(t, EndpointDisabled, ep.Status)
	require.Contains(t, ep.DisabledReason, "the last 3 deliveries failed")
	require.Equal(t, 3, ep.Health.ConsecutiveFailedDeliveries)
	require.NotNil(t, ep.Health.LastFailureAt)
	require.Contains(t, b.logs.String(), "endpoint disabled")

	require.Equal(t, 1, pager.count(), "the ops set got endpoint.disabled")
	req, body := pager.request(0)
	require.NotEmpty(t, req.Header.Get("webhook-id"))
	var got struct {
		Type string
		Data struct {
			Set, Endpoint, UserID, Reason string
			DisabledAt                    time.Time
		}
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, EndpointDisabledType, got.Type)
	require.Equal(t, "customer-events", got.Data.Set)
	require.Equal(t, "hooks", got.Data.Endpoint)
	require.Equal(t, "alice", got.Data.UserID)
	require.Equal(t, ep.DisabledReason, got.Data.Reason)
	require.False(t, got.Data.DisabledAt.IsZero())

	// Disabled: held, like paused. Resume re-enables with a clean count and releases.
	held := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`9`), UserID: "alice"})
	b.pump(t)
	require.Equal(t, 6, failing.count())
	require.Equal(t, StatusPaused, deliveryOf(t, b, held.EventID, "hooks").Status)
	ep, err = b.svc.ResumeEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	require.Equal(t, EndpointEnabled, ep.Status)
	require.Empty(t, ep.DisabledReason)
	require.Equal(t, 0, ep.Health.ConsecutiveFailedDeliveries)
	b.pump(t)
	require.Equal(t, StatusDelivered, deliveryOf(t, b, held.EventID, "hooks").Status)
	require.Equal(t, 1, pager.count())
}

func TestService_RecoverRequeuesTheFailedDeliveriesOfTheWindow(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500)
	b := setup(t, customerSet(newReceiver(t), &config.AutoDisable{AfterFailedDeliveries: 100}), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	var ids []string
	var times []time.Time
	for i := range 4 {
		b.clock.Add(time.Minute)
		times = append(times, b.clock.Now())
		res := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i)), UserID: "alice"})
		ids = append(ids, res.EventID)
		b.pump(t)
	}
	require.Equal(t, 8, hooks.count())
	ok := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`"ok"`), UserID: "alice"})
	b.pump(t)
	require.Equal(t, StatusDelivered, deliveryOf(t, b, ok.EventID, "hooks").Status)

	until := times[3]
	res, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{Since: times[1], Until: &until})
	require.NoError(t, err)
	require.Equal(t, 2, res.Requeued, "events 1 and 2: the failed ones in [since, until)")
	b.pump(t)
	require.Equal(t, 8+1+2, hooks.count())
	for i, want := range []string{StatusFailed, StatusDelivered, StatusDelivered, StatusFailed} {
		d := deliveryOf(t, b, ids[i], "hooks")
		require.Equal(t, want, d.Status, "event %d", i)
	}
	require.Len(t, deliveryOf(t, b, ids[1], "hooks").Attempts, 3, "a fresh round after the 2 failed attempts")
}

func TestService_DeleteEndsHeldAndRetryingDeliveriesAsFailed(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t, 500)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	retrying := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`1`), UserID: "alice"})
	msgs, err := b.queue.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	for _, m := range msgs {
		require.NoError(t, b.svc.Process(ctx, m.Body))
		require.NoError(t, b.queue.Delete(ctx, m.Receipt))
	}
	require.Equal(t, StatusRetrying, deliveryOf(t, b, retrying.EventID, "hooks").Status)
	_, err = b.svc.PauseEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	held := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`2`), UserID: "alice"})
	msgs, err = b.queue.Receive(ctx, 10, time.Minute)
	require.NoError(t, err)
	for _, m := range msgs {
		var j job
		require.NoError(t, json.Unmarshal(m.Body, &j))
		if j.EventID == held.EventID {
			require.NoError(t, b.svc.Process(ctx, m.Body))
			require.NoError(t, b.queue.Delete(ctx, m.Receipt))
		} else {
			require.NoError(t, b.queue.ChangeVisibility(ctx, m.Receipt, 0))
		}
	}
	_, err = b.svc.PauseEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	queued := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`3`), UserID: "alice"})
	require.Equal(t, StatusPaused, deliveryOf(t, b, held.EventID, "hooks").Status)

	require.NoError(t, b.svc.DeleteUserEndpoint(ctx, "customer-events", "alice", "hooks"))
	for _, id := range []string{retrying.EventID, held.EventID, queued.EventID} {
		d := deliveryOf(t, b, id, "hooks")
		require.Equal(t, StatusFailed, d.Status, id)
		require.Equal(t, notAttemptedPrefix+reasonEndpointDeleted, d.Attempts[len(d.Attempts)-1].Error)
	}
	b.pump(t)
	require.Equal(t, 1, hooks.count(), "nothing POSTed after the delete")
	for _, id := range []string{retrying.EventID, held.EventID, queued.EventID} {
		require.Equal(t, StatusFailed, deliveryOf(t, b, id, "hooks").Status, id)
	}
	_, err = b.svc.GetUserEndpoint(ctx, "customer-events", "alice", "hooks")
	requireCode(t, err, ErrNotFound, "endpoint_not_found")
	requireCode(t, b.svc.DeleteUserEndpoint(ctx, "customer-events", "alice", "hooks"), ErrNotFound, "endpoint_not_found")
}

func TestService_ListFilters(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t, 500, 500)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	start := b.clock.Now()
	ids := map[string]string{}
	for _, s := range []struct{ name, typ, user string }{
		{"a-invoice", "invoice.paid", "alice"}, {"b-user", "user.created", "bob"}, {"a-order", "order.shipped", "alice"},
		{"anon", "invoice.created", ""},
	} {
		b.clock.Add(time.Minute)
		res := send(t, b, "customer-events", SendRequest{Type: s.typ, Payload: json.RawMessage(`{}`), UserID: s.user})
		ids[s.name] = res.EventID
		b.pump(t)
	}
	list := func(q ListQuery) []string {
		t.Helper()
		out, err := b.svc.ListEvents(ctx, "customer-events", q)
		require.NoError(t, err)
		var got []string
		for _, ev := range out.Events {
			got = append(got, ev.ID)
		}
		return got
	}
	require.Equal(t, []string{ids["a-order"], ids["a-invoice"]}, list(ListQuery{UserID: "alice"}))
	require.Equal(t, []string{ids["anon"], ids["a-invoice"]}, list(ListQuery{Type: "invoice.*"}))
	require.Equal(t, []string{ids["b-user"]}, list(ListQuery{Type: "user.created"}))
	require.Equal(t, []string{ids["a-invoice"]}, list(ListQuery{Status: StatusFailed}), "the first delivery to hooks failed twice")
	require.Equal(t, []string{ids["a-order"], ids["a-invoice"]}, list(ListQuery{Endpoint: "hooks"}))
	require.Equal(t, []string{ids["a-order"], ids["b-user"]},
		list(ListQuery{Since: start.Add(2 * time.Minute), Until: start.Add(4 * time.Minute)}))
	require.Equal(t, []string{ids["a-order"]}, list(ListQuery{UserID: "alice", Status: StatusDelivered}))
	require.Empty(t, list(ListQuery{UserID: "carol"}))
}

func TestService_EndpointsRefuseBadInputAndStoreNothing(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	strict := config.Set{Name: "strict", Endpoints: []config.Endpoint{endpoint("crm", r)},
		UserEndpoints: &config.UserEndpoints{Enabled: true, MaxPerUser: 1}}
	b := setup(t, customerSet(r, nil), opsSet(r), strict)
	ctx := context.Background()
	register(t, b, "alice", "hooks", r)
	put := func(set, user, name, url string, types ...string) error {
		_, _, err := b.svc.PutUserEndpoint(ctx, set, user, name, EndpointRequest{URL: url, EventTypes: types})
		return err
	}
	kinds := map[string]error{"endpoint_name_taken": ErrConflict, "user_endpoints_disabled": ErrConflict,
		"unknown_set": ErrNotFound, "endpoint_not_found": ErrNotFound}
	for _, tc := range []struct {
		name, code string
		err        error
	}{
		{"ftp scheme", "invalid_url", put("strict", "u", "e", "ftp://x.example.com/")},
		{"http without allowPrivateNetwork", "invalid_url", put("strict", "u", "e", "http://x.example.com/")},
		{"loopback", "invalid_url", put("strict", "u", "e", "https://127.0.0.1/hook")},
		{"metadata address", "invalid_url", put("strict", "u", "e", "https://169.254.169.254/latest")},
		{"localhost name", "invalid_url", put("strict", "u", "e", "https://localhost/hook")},
		{"credentials", "invalid_url", put("strict", "u", "e", "https://a:b@x.example.com/")},
		{"port out of range", "invalid_url", put("strict", "u", "e", "https://x.example.com:99999/")},
		{"port zero", "invalid_url", put("strict", "u", "e", "https://x.example.com:0/")},
		{"no url", "invalid_url", put("strict", "u", "e", "")},
		{"star inside a pattern", "invalid_event_types", put("strict", "u", "e", "https://x.example.com/", "in*.paid")},
		{"empty pattern", "invalid_event_types", put("strict", "u", "e", "https://x.example.com/", "")},
		{"static name", "endpoint_name_taken", put("strict", "u", "crm", "https://x.example.com/")},
		{"bad name", "invalid_endpoint_name", put("strict", "u", "Bad Name", "https://x.example.com/")},
		{"bad user", "invalid_user_id", put("strict", "a/b", "e", "https://x.example.com/")},
		{"set without user endpoints", "user_endpoints_disabled", put("ops", "u", "e", "https://x.example.com/")},
		{"unknown set", "unknown_set", put("nope", "u", "e", "https://x.example.com/")},
		{"pause unknown", "endpoint_not_found", func() error {
			_, err := b.svc.PauseEndpoint(ctx, "customer-events", "alice", "nope")
			return err
		}()},
		{"resume unknown static", "endpoint_not_found", func() error {
			_, err := b.svc.ResumeEndpoint(ctx, "customer-events", "", "hooks")
			return err
		}()},
		{"recover since after until", "invalid_window", func() error {
			until := b.clock.Now().Add(-time.Hour)
			_, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{Since: b.clock.Now(), Until: &until})
			return err
		}()},
		{"recover without since", "missing_since", func() error {
			_, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{})
			return err
		}()},
		{"list since after until", "invalid_window", func() error {
			_, err := b.svc.ListEvents(ctx, "customer-events", ListQuery{Since: b.clock.Now(), Until: b.clock.Now()})
			return err
		}()},
		{"list bad status", "invalid_status", func() error {
			_, err := b.svc.ListEvents(ctx, "customer-events", ListQuery{Status: "queued"})
			return err
		}()},
		{"list bad type pattern", "invalid_type", func() error {
			_, err := b.svc.ListEvents(ctx, "customer-events", ListQuery{Type: "a*b"})
			return err
		}()},
	} {
		kind := kinds[tc.code]
		if kind == nil {
			kind = ErrInvalid
		}
		requireCode(t, tc.err, kind, tc.code)
		var e *Error
		require.True(t, errors.As(tc.err, &e))
		require.NotContains(t, strings.ToLower(e.Message), "store:", tc.name)
	}
	require.NoError(t, put("strict", "u", "first", "https://x.example.com/"))
	requireCode(t, put("strict", "u", "second", "https://y.example.com/"), ErrConflict, "too_many_endpoints")
	list, err := b.svc.ListUserEndpoints(ctx, "strict", "u")
	require.NoError(t, err)
	require.Len(t, list.Endpoints, 1, "nothing stored by the refused calls")
	alice, err := b.svc.ListUserEndpoints(ctx, "customer-events", "alice")
	require.NoError(t, err)
	require.Len(t, alice.Endpoints, 1)
	require.Equal(t, EndpointEnabled, alice.Endpoints[0].Status)
}

func TestService_ResumeOfARemovedStaticEndpointEndsItsHeldDeliveries(t *testing.T) {
	t.Parallel()
	audit := newReceiver(t)
	b := setup(t, customerSet(audit, nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	_, err := b.svc.PauseEndpoint(ctx, "customer-events", "", "audit")
	require.NoError(t, err)
	held := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`1`)})
	b.pump(t)
	require.Equal(t, StatusPaused, deliveryOf(t, b, held.EventID, "audit").Status)

	// The operator removes the paused endpoint from the config and restarts (or redeploys).
	set := customerSet(audit, nil)
	set.Endpoints = nil
	cfg, err := (&config.Config{Sets: []config.Set{set, opsSet(newReceiver(t))}}).Validate()
	require.NoError(t, err)
	b.cfg = cfg
	b.restart(t)

	_, err = b.svc.ResumeEndpoint(ctx, "customer-events", "", "audit")
	requireCode(t, err, ErrNotFound, "endpoint_not_found")
	require.Contains(t, err.Error(), "its held deliveries end failed")
	b.pump(t)
	d := deliveryOf(t, b, held.EventID, "audit")
	require.Equal(t, StatusFailed, d.Status)
	require.Equal(t, notAttemptedPrefix+`the endpoint "audit" is no longer configured in set "customer-events"`,
		d.Attempts[len(d.Attempts)-1].Error)
	ev, err := b.svc.GetEvent(ctx, "customer-events", held.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusFailed, ev.Status)
	require.Equal(t, 0, audit.count())

	// Nothing is left to end: the next resume is a plain 404.
	_, err = b.svc.ResumeEndpoint(ctx, "customer-events", "", "audit")
	requireCode(t, err, ErrNotFound, "endpoint_not_found")
	require.NotContains(t, err.Error(), "end failed")
}

func TestService_AReregisteredEndpointGetsNothingOfTheDeletedOne(t *testing.T) {
	t.Parallel()
	oldHooks, newHooks := newReceiver(t), newReceiver(t)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", oldHooks)
	res := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`1`), UserID: "alice"})
	// The endpoint is deleted while the send's message is in flight, and the delete's scan misses it (a
	// send racing the delete stores its event after the scan): the store's record alone goes.
	require.NoError(t, b.db.Store().DeleteEndpoint(ctx, store.EndpointRef{Set: "customer-events", UserID: "alice", Name: "hooks"}))
	b.clock.Add(time.Millisecond)
	register(t, b, "alice", "hooks", newHooks)
	b.pump(t)
	require.Equal(t, 0, newHooks.count()+oldHooks.count(), "the old registration's message POSTs nothing")
	d := deliveryOf(t, b, res.EventID, "hooks")
	require.Equal(t, StatusFailed, d.Status)
	require.Equal(t, notAttemptedPrefix+reasonEndpointDeleted, d.Attempts[len(d.Attempts)-1].Error)

	// A send after the new registration is delivered to it.
	res = send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`2`), UserID: "alice"})
	b.pump(t)
	require.Equal(t, StatusDelivered, deliveryOf(t, b, res.EventID, "hooks").Status)
	require.Equal(t, 1, newHooks.count())
}

func TestService_ADeliveryWorkerWithACachedStateDeliversToTheNewRegistration(t *testing.T) {
	t.Parallel()
	oldHooks, newHooks := newReceiver(t), newReceiver(t)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	// A deliver function instance, which keeps endpoint states for a while (awsapp.EndpointStateTTL).
	worker, err := New(Options{
		Config: b.cfg, Store: b.db.Store(), Queue: b.queue, Named: envsecret.Env{}, Users: b.db.UserSecrets(),
		HTTP: egress.New(), Now: b.clock.Now, Rand: rand.Reader, Jitter: func() float64 { return 0.5 },
		Logger: slog.New(slog.NewTextHandler(b.logs, nil)), CursorKey: []byte("test cursor key"), EndpointStateTTL: time.Hour,
	})
	require.NoError(t, err)
	register(t, b, "alice", "hooks", oldHooks)
	send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`1`), UserID: "alice"})
	b.pumpWith(t, worker)
	require.Equal(t, 1, oldHooks.count())

	// Deleted and registered again while the worker still holds the old state: the new send is the new
	// registration's, and goes to its URL.
	require.NoError(t, b.svc.DeleteUserEndpoint(ctx, "customer-events", "alice", "hooks"))
	b.clock.Add(time.Millisecond)
	register(t, b, "alice", "hooks", newHooks)
	res := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`2`), UserID: "alice"})
	b.pumpWith(t, worker)
	require.Equal(t, StatusDelivered, deliveryOf(t, b, res.EventID, "hooks").Status)
	require.Equal(t, 1, newHooks.count())
	require.Equal(t, 1, oldHooks.count())
}

// holdBacklog pauses alice's endpoint hooks in customer-events and sends it n events, a millisecond apart,
// whose deliveries it holds; it returns their ids, in the order sent.
func holdBacklog(t *testing.T, b *bundle, n int) []string {
	t.Helper()
	_, err := b.svc.PauseEndpoint(context.Background(), "customer-events", "alice", "hooks")
	require.NoError(t, err)
	var ids []string
	for i := range n {
		b.clock.Add(time.Millisecond)
		ids = append(ids, send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i)), UserID: "alice"}).EventID)
	}
	b.pump(t)
	return ids
}

// countHeld is how many of the events ids have their delivery to hooks still held.
func countHeld(t *testing.T, b *bundle, ids []string) int {
	t.Helper()
	held := 0
	for _, id := range ids {
		if deliveryOf(t, b, id, "hooks").Status == StatusPaused {
			held++
		}
	}
	return held
}

func TestService_ResumeReleasesALargeBacklogThroughTheQueue(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	const n = 2*releaseBatch + 50
	ids := holdBacklog(t, b, n)
	require.Equal(t, 0, hooks.count())

	// The API call releases at most one page itself, so that it answers in time however many are held (an
	// API Lambda has seconds); a queue message releases the rest, page by page.
	_, err := b.svc.ResumeEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	require.GreaterOrEqual(t, countHeld(t, b, ids), n-releaseBatch)
	b.pump(t)
	require.Equal(t, n, hooks.count(), "every held delivery POSTed once")
	for i, id := range ids {
		_, body := hooks.request(i)
		var got struct{ ID string }
		require.NoError(t, json.Unmarshal(body, &got))
		require.Equal(t, id, got.ID, "released in creation order")
		require.Equal(t, StatusDelivered, deliveryOf(t, b, id, "hooks").Status)
	}
}

func TestService_DeleteEndsALargeBacklogOfHeldDeliveries(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	const n = 2*releaseBatch + 50
	ids := holdBacklog(t, b, n)

	// The call ends at most one page itself (an API Lambda has seconds; the endpoint is gone once it is
	// deleted, so a call that timed out could not be repeated); a queue message ends the rest.
	require.NoError(t, b.svc.DeleteUserEndpoint(ctx, "customer-events", "alice", "hooks"))
	require.Equal(t, StatusFailed, deliveryOf(t, b, ids[0], "hooks").Status, "the first page at once")
	require.GreaterOrEqual(t, countHeld(t, b, ids), n-releaseBatch)
	b.pump(t)
	require.Equal(t, 0, hooks.count())
	for _, id := range ids {
		d := deliveryOf(t, b, id, "hooks")
		require.Equal(t, StatusFailed, d.Status, id)
		require.Equal(t, notAttemptedPrefix+reasonEndpointDeleted, d.Attempts[len(d.Attempts)-1].Error)
	}
}

func TestService_RecoverTwiceQueuesEachFailedDeliveryOnce(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t, 500, 500, 500, 500)
	b := setup(t, customerSet(newReceiver(t), &config.AutoDisable{AfterFailedDeliveries: 100}), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	since := b.clock.Now()
	var ids []string
	for i := range 2 {
		b.clock.Add(time.Second)
		ids = append(ids, send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i)), UserID: "alice"}).EventID)
		b.pump(t)
	}
	require.Equal(t, 4, hooks.count())

	// A recover whose messages cannot be queued answers an error and leaves the deliveries failed, to be
	// recovered again.
	b.queue.fail.Store(1)
	_, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{Since: since})
	require.Error(t, err)
	for _, id := range ids {
		d := deliveryOf(t, b, id, "hooks")
		require.Equal(t, StatusFailed, d.Status)
		require.Equal(t, notAttemptedPrefix+"the recover could not be queued", d.Attempts[len(d.Attempts)-1].Error)
	}

	// A client that retries its recover (its first answer was lost), or two operators at once.
	first, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{Since: since})
	require.NoError(t, err)
	require.Equal(t, 2, first.Requeued)
	for _, id := range ids {
		require.Equal(t, StatusQueued, deliveryOf(t, b, id, "hooks").Status, "queued as soon as recover answers")
	}
	second, err := b.svc.RecoverEndpoint(ctx, "customer-events", "alice", "hooks", RecoverRequest{Since: since})
	require.NoError(t, err)
	require.Equal(t, 0, second.Requeued, "nothing failed any more: already queued")
	b.pump(t)
	require.Equal(t, 4+2, hooks.count(), "each recovered delivery POSTed once")
	for _, id := range ids {
		require.Equal(t, StatusDelivered, deliveryOf(t, b, id, "hooks").Status)
	}
}

func TestService_AStaticEndpointAutoDisablesAfterTheWindow(t *testing.T) {
	t.Parallel()
	pager := newReceiver(t)
	failing := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500)
	crm := endpoint("crm", failing, func(e *config.Endpoint) {
		e.Retry = &config.Retry{Attempts: 1}
		e.AutoDisable = &config.AutoDisable{AfterFailedDeliveries: 3, AfterSeconds: 60}
	})
	b := setup(t, config.Set{Name: "billing", Endpoints: []config.Endpoint{crm},
		OnEndpointDisabled: &config.EndpointDisabledHook{Set: "ops"}}, opsSet(pager))
	ctx := context.Background()
	status := func() Endpoint {
		l, err := b.svc.ListStaticEndpoints(ctx, "billing")
		require.NoError(t, err)
		return l.Endpoints[0]
	}
	for i := range 4 {
		send(t, b, "billing", SendRequest{Type: "a", Payload: json.RawMessage(fmt.Sprint(i))})
		b.pump(t)
	}
	require.Equal(t, EndpointEnabled, status().Status, "4 failed deliveries, the first less than 60 s ago")
	require.Equal(t, 4, status().Health.ConsecutiveFailedDeliveries)

	b.clock.Add(61 * time.Second)
	send(t, b, "billing", SendRequest{Type: "a", Payload: json.RawMessage(`5`)})
	b.pump(t)
	ep := status()
	require.Equal(t, EndpointDisabled, ep.Status, "the failures began 61 s ago")
	require.Contains(t, ep.DisabledReason, "the last 5 deliveries failed")
	require.Equal(t, 1, pager.count(), "the ops set got endpoint.disabled")
	_, body := pager.request(0)
	var got struct {
		Type string
		Data map[string]any
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, EndpointDisabledType, got.Type)
	require.Equal(t, "billing", got.Data["set"])
	require.Equal(t, "crm", got.Data["endpoint"])
	require.NotContains(t, got.Data, "userId", "a static endpoint has no user")

	held := send(t, b, "billing", SendRequest{Type: "a", Payload: json.RawMessage(`6`)})
	b.pump(t)
	require.Equal(t, 5, failing.count())
	ev, err := b.svc.GetEvent(ctx, "billing", held.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusPaused, ev.Deliveries[0].Status)
	_, err = b.svc.ResumeEndpoint(ctx, "billing", "", "crm")
	require.NoError(t, err)
	b.pump(t)
	require.Equal(t, 6, failing.count(), "released by resume")
}

func TestService_AbandonedReleaseLeavesTheDeliveriesHeld(t *testing.T) {
	t.Parallel()
	hooks := newReceiver(t)
	b := setup(t, customerSet(newReceiver(t), nil), opsSet(newReceiver(t)))
	ctx := context.Background()
	register(t, b, "alice", "hooks", hooks)
	_, err := b.svc.PauseEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	held := send(t, b, "customer-events", SendRequest{Type: "a", Payload: json.RawMessage(`1`), UserID: "alice"})
	b.pump(t)

	// A release message that failed on every receive allowed is dropped (kept, it would fail forever) and
	// logged; the held delivery stays held, and the next resume releases it.
	ref := store.EndpointRef{Set: "customer-events", UserID: "alice", Name: "hooks"}
	body, err := json.Marshal(releaseJob(ref, b.clock.Now()).wire())
	require.NoError(t, err)
	require.NoError(t, b.svc.Abandon(ctx, body, 5, errors.New("store unavailable")))
	require.Contains(t, b.logs.String(), "giving up releasing held deliveries")
	require.Equal(t, StatusPaused, deliveryOf(t, b, held.EventID, "hooks").Status)
	_, err = b.svc.ResumeEndpoint(ctx, "customer-events", "alice", "hooks")
	require.NoError(t, err)
	b.pump(t)
	require.Equal(t, StatusDelivered, deliveryOf(t, b, held.EventID, "hooks").Status)
}
