package webhook

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/store"
)

// TestDecodeJob_VersionZero reads a message written before jobs had a version (testdata/job-v0.json is one,
// byte for byte, as the queues of deployed stacks hold them): it is a version 1 job.
func TestDecodeJob_VersionZero(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("testdata", "job-v0.json"))
	require.NoError(t, err)
	j, err := decodeJob(body)
	require.NoError(t, err)
	require.Equal(t, jobVersion, j.V)
	require.Equal(t, "whevt_01KB9Z3Q5G0000000000000000", j.EventID)
	require.Equal(t, 1, j.Round)
	require.NotNil(t, j.Event)
	require.JSONEq(t, `{"orderId":"ord_7"}`, string(j.Event.Payload))

	// What this code writes carries the version.
	out, err := json.Marshal(j.wire())
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(out, &fields))
	require.EqualValues(t, 1, fields["v"], "a job to a static endpoint stays version 1")
	j.User = "alice"
	out, err = json.Marshal(j.wire())
	require.NoError(t, err)
	back, err := decodeJob(out)
	require.NoError(t, err)
	require.Equal(t, "alice", back.User)
	require.Contains(t, string(out), `"v":2`, "a job to a user's endpoint is version 2")

	out, err = json.Marshal(releaseJob(store.EndpointRef{Set: "s", UserID: "alice", Name: "hooks"}, time.Now()).wire())
	require.NoError(t, err)
	require.Contains(t, string(out), `"v":3`, "a release message is version 3: version 2 code keeps it")
	back, err = decodeJob(out)
	require.NoError(t, err)
	require.True(t, back.Release)
	require.Equal(t, "hooks", back.Endpoint)
}

func TestDecodeJob_Refuses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"not JSON":        `{`,
		"no event id":     `{"v":1,"set":"s","endpoint":"x","attempt":1,"attemptId":"a"}`,
		"attempt 0":       `{"v":1,"set":"s","eventId":"e","endpoint":"x","attempt":0,"attemptId":"a"}`,
		"no attempt id":   `{"v":1,"set":"s","eventId":"e","endpoint":"x","attempt":1}`,
		"no set":          `{"v":1,"eventId":"e","endpoint":"x","attempt":1,"attemptId":"a"}`,
		"a JSON array":    `[]`,
		"an empty object": `{}`,
	} {
		_, err := decodeJob([]byte(body))
		require.ErrorIs(t, err, errMalformedJob, name)
	}
	_, err := decodeJob([]byte(`{"v":4,"set":"s","eventId":"e","endpoint":"x","attempt":1,"attemptId":"a"}`))
	require.ErrorIs(t, err, errNewerJob)
	_, err = decodeJob([]byte(`{"v":3,"set":"s","release":true}`))
	require.ErrorIs(t, err, errMalformedJob, "a release message without its endpoint")
}

// TestService_ProcessesMessagesWithoutVersion: a message of the old format in the queue is delivered.
func TestService_ProcessesMessagesWithoutVersion(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{"a":1}`)})
	ctx := context.Background()
	msgs, err := b.queue.Receive(ctx, 10, 0)
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var old map[string]any
	require.NoError(t, json.Unmarshal(msgs[0].Body, &old))
	delete(old, "v")
	body, err := json.Marshal(old)
	require.NoError(t, err)

	require.NoError(t, b.svc.Process(ctx, body))
	require.Equal(t, 1, r.count())
	ev, err := b.svc.GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	require.Equal(t, StatusDelivered, ev.Status)
	require.Equal(t, res.Deliveries[0].AttemptID, ev.Deliveries[0].Attempts[0].ID)
}

// TestService_RecoveryJobReadsFirst: the job an idempotent replay queues carries no event, so it reads the
// store and does nothing when the first call's own message made the attempt.
func TestService_RecoveryJobReadsFirst(t *testing.T) {
	t.Parallel()
	r := newReceiver(t)
	b := setup(t, config.Set{Name: "s", Endpoints: []config.Endpoint{endpoint("e", r)}})
	res := send(t, b, "s", SendRequest{Type: "t", Payload: json.RawMessage(`{}`)})
	require.Equal(t, 1, b.pump(t))
	ctx := context.Background()
	rec, err := b.db.Store().GetEvent(ctx, "s", res.EventID)
	require.NoError(t, err)
	j := recoveryJob(rec.Event, rec.Event.Deliveries[0], b.clock.Now())
	require.Nil(t, j.Event)
	body, err := json.Marshal(j)
	require.NoError(t, err)
	require.NoError(t, b.svc.Process(ctx, body))
	require.Equal(t, 1, r.count(), "the recorded attempt is not made again")
	require.Equal(t, 0, b.pump(t))
}
