package dynamostore

import (
	"strings"
	"time"

	"github.com/outhook/outhook/shared/store"
)

// Item shapes. Attribute names are short because they are stored, and billed, in every item; docs/aws.md
// lists them. The set and the event id are not repeated in attributes: they are in the keys. Times are Unix
// milliseconds (the precision of the port), durations nanoseconds, and every item carries TTLAttribute in
// epoch seconds for retention.

// eventItem is an event and its planned deliveries: pk = "<set>#<shard>", sk = event id.
type eventItem struct {
	PK         string         `dynamodbav:"pk"`
	SK         string         `dynamodbav:"sk"`
	Type       string         `dynamodbav:"ty"`
	Payload    []byte         `dynamodbav:"p,omitempty"`
	UserID     string         `dynamodbav:"u,omitempty"`
	UserKey    string         `dynamodbav:"us,omitempty"` // UserAttribute: "<set>#<user>", indexed
	IdemKey    string         `dynamodbav:"ik,omitempty"`
	ReqHash    string         `dynamodbav:"rh,omitempty"`
	Deliveries []deliveryItem `dynamodbav:"d"`
	CreatedAt  int64          `dynamodbav:"c"`
	ExpiresMs  int64          `dynamodbav:"x,omitempty"`
	ExpiresAt  int64          `dynamodbav:"expiresAt,omitempty"`
}

type deliveryItem struct {
	Endpoint       string `dynamodbav:"e"`
	URL            string `dynamodbav:"u"`
	FirstAttemptID string `dynamodbav:"a"`
	UserID         string `dynamodbav:"ui,omitempty"`
}

// attemptItem is one attempt: pk = "<set>#<shard>" of its event, sk = "<event id>#<endpoint>#<number, 6 digits>".
type attemptItem struct {
	PK             string            `dynamodbav:"pk"`
	SK             string            `dynamodbav:"sk"`
	ID             string            `dynamodbav:"id"`
	Endpoint       string            `dynamodbav:"e"`
	Number         int               `dynamodbav:"n"`
	StartedAt      int64             `dynamodbav:"s"`
	Duration       int64             `dynamodbav:"du"`
	RequestHeaders map[string]string `dynamodbav:"h,omitempty"`
	ResponseStatus int               `dynamodbav:"rs,omitempty"`
	ResponseBody   []byte            `dynamodbav:"rb,omitempty"`
	Error          string            `dynamodbav:"er,omitempty"`
	Outcome        string            `dynamodbav:"o"`
	NextAttemptAt  int64             `dynamodbav:"na,omitempty"`
	NextAttemptID  string            `dynamodbav:"ni,omitempty"`
	ExpiresMs      int64             `dynamodbav:"x,omitempty"`
	ExpiresAt      int64             `dynamodbav:"expiresAt,omitempty"`
}

// idemItem reserves an idempotency key of a set for an event: pk = "I#<set>#<key>", sk = "I". It carries the
// reserving send's request hash and createdAt, so that a replay is answered or refused without the event;
// items written before those fields existed have neither (the event carries them).
type idemItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	EventID   string `dynamodbav:"ev"`
	ReqHash   string `dynamodbav:"rh,omitempty"`
	CreatedAt int64  `dynamodbav:"c,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt,omitempty"`
}

func newEventItem(ev store.Event) eventItem {
	it := eventItem{
		PK: ShardKey(ev.Set, ev.ID), SK: ev.ID,
		Type: ev.Type, Payload: ev.Payload, UserID: ev.UserID,
		IdemKey: ev.IdempotencyKey, ReqHash: ev.RequestHash,
		Deliveries: make([]deliveryItem, len(ev.Deliveries)),
		CreatedAt:  toMs(ev.CreatedAt),
		ExpiresMs:  toMs(ev.ExpiresAt),
		ExpiresAt:  ttl(ev.ExpiresAt),
	}
	for i, d := range ev.Deliveries {
		it.Deliveries[i] = deliveryItem{Endpoint: d.Endpoint, URL: d.URL, FirstAttemptID: d.FirstAttemptID, UserID: d.UserID}
	}
	if ev.UserID != "" {
		it.UserKey = userKey(ev.Set, ev.UserID)
	}
	return it
}

func (it eventItem) event() store.Event {
	ev := store.Event{
		ID: it.SK, Set: setOf(it.PK), Type: it.Type, Payload: it.Payload, UserID: it.UserID,
		IdempotencyKey: it.IdemKey, RequestHash: it.ReqHash,
		Deliveries: make([]store.Delivery, len(it.Deliveries)),
		CreatedAt:  fromMs(it.CreatedAt),
		ExpiresAt:  fromMs(it.ExpiresMs),
	}
	for i, d := range it.Deliveries {
		ev.Deliveries[i] = store.Delivery{Endpoint: d.Endpoint, URL: d.URL, FirstAttemptID: d.FirstAttemptID, UserID: d.UserID}
	}
	return ev
}

func newAttemptItem(a store.Attempt) attemptItem {
	return attemptItem{
		PK: ShardKey(a.Set, a.EventID), SK: attemptSK(a.EventID, a.Endpoint, a.Number),
		ID: a.ID, Endpoint: a.Endpoint, Number: a.Number,
		StartedAt: toMs(a.StartedAt), Duration: int64(a.Duration),
		RequestHeaders: a.RequestHeaders, ResponseStatus: a.ResponseStatus, ResponseBody: []byte(a.ResponseBody),
		Error: a.Error, Outcome: string(a.Outcome),
		NextAttemptAt: toMs(a.NextAttemptAt), NextAttemptID: a.NextAttemptID,
		ExpiresMs: toMs(a.ExpiresAt), ExpiresAt: ttl(a.ExpiresAt),
	}
}

func (it attemptItem) attempt() store.Attempt {
	return store.Attempt{
		Set: setOf(it.PK), EventID: eventIDOf(it.SK), Endpoint: it.Endpoint, ID: it.ID, Number: it.Number,
		StartedAt: fromMs(it.StartedAt), Duration: time.Duration(it.Duration),
		RequestHeaders: it.RequestHeaders, ResponseStatus: it.ResponseStatus, ResponseBody: string(it.ResponseBody),
		Error: it.Error, Outcome: store.Outcome(it.Outcome),
		NextAttemptAt: fromMs(it.NextAttemptAt), NextAttemptID: it.NextAttemptID,
		ExpiresAt: fromMs(it.ExpiresMs),
	}
}

// holdMarkItem records in the event's partition that an attempt was held: sk = holdMarkSK.
type holdMarkItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Endpoint  string `dynamodbav:"e"`
	Number    int    `dynamodbav:"n"`
	HeldAt    int64  `dynamodbav:"ha"`
	Released  bool   `dynamodbav:"rl,omitempty"`
	ExpiresAt int64  `dynamodbav:"expiresAt,omitempty"`
}

// holdItem is a held delivery: pk = holdsPK, sk = holdSK. It has no TTL: a held delivery is never dropped.
type holdItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	EventID   string `dynamodbav:"ev"`
	Number    int    `dynamodbav:"n"`
	Job       []byte `dynamodbav:"j"`
	HeldAt    int64  `dynamodbav:"ha"`
	EventExpt int64  `dynamodbav:"x,omitempty"`
}

// endpointItem is a user endpoint or a static endpoint's state: pk = endpointsPK, sk = the name.
type endpointItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	URL            string   `dynamodbav:"u,omitempty"`
	EventTypes     []string `dynamodbav:"ty,omitempty"`
	Description    string   `dynamodbav:"de,omitempty"`
	Status         string   `dynamodbav:"st"`
	DisabledReason string   `dynamodbav:"dr,omitempty"`
	DisabledAt     int64    `dynamodbav:"da,omitempty"`
	LastSuccessAt  int64    `dynamodbav:"ls,omitempty"`
	LastFailureAt  int64    `dynamodbav:"lf,omitempty"`
	Failed         int      `dynamodbav:"cf,omitempty"`
	FailingSince   int64    `dynamodbav:"fs,omitempty"`
	CreatedAt      int64    `dynamodbav:"c"`
	UpdatedAt      int64    `dynamodbav:"up"`
	Version        int64    `dynamodbav:"v"`
}

func newEndpointItem(ep store.Endpoint) endpointItem {
	return endpointItem{
		PK: endpointsPK(ep.Set, ep.UserID), SK: ep.Name,
		URL: ep.URL, EventTypes: ep.EventTypes, Description: ep.Description,
		Status: string(ep.Status), DisabledReason: ep.DisabledReason, DisabledAt: toMs(ep.DisabledAt),
		LastSuccessAt: toMs(ep.Health.LastSuccessAt), LastFailureAt: toMs(ep.Health.LastFailureAt),
		Failed: ep.Health.ConsecutiveFailed, FailingSince: toMs(ep.Health.FailingSince),
		CreatedAt: toMs(ep.CreatedAt), UpdatedAt: toMs(ep.UpdatedAt), Version: ep.Version,
	}
}

func (it endpointItem) endpoint() store.Endpoint {
	rest := strings.TrimPrefix(it.PK, "N#")
	set, user, _ := strings.Cut(rest, "#")
	types := it.EventTypes
	if types == nil {
		types = []string{}
	}
	return store.Endpoint{
		EndpointRef: store.EndpointRef{Set: set, UserID: user, Name: it.SK},
		URL:         it.URL, EventTypes: types, Description: it.Description,
		Status: store.EndpointStatus(it.Status), DisabledReason: it.DisabledReason, DisabledAt: fromMs(it.DisabledAt),
		Health: store.Health{LastSuccessAt: fromMs(it.LastSuccessAt), LastFailureAt: fromMs(it.LastFailureAt),
			ConsecutiveFailed: it.Failed, FailingSince: fromMs(it.FailingSince)},
		CreatedAt: fromMs(it.CreatedAt), UpdatedAt: fromMs(it.UpdatedAt), Version: it.Version,
	}
}

// toMs is t in Unix milliseconds; the zero time is 0.
func toMs(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMs is the inverse of toMs, in UTC.
func fromMs(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ttl is t in epoch seconds, rounded up so that nothing expires early; the zero time is 0 (never).
func ttl(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
