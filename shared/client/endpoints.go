package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Endpoint is an endpoint of a set: a static one of the configuration, or one a user registered (UserID set).
type Endpoint struct {
	Name           string         `json:"name"`
	URL            string         `json:"url"`
	EventTypes     []string       `json:"eventTypes"`
	Description    string         `json:"description,omitempty"`
	UserID         string         `json:"userId,omitempty"`
	Status         string         `json:"status"` // enabled | paused | disabled
	DisabledReason string         `json:"disabledReason,omitempty"`
	CreatedAt      *time.Time     `json:"createdAt,omitempty"`
	UpdatedAt      *time.Time     `json:"updatedAt,omitempty"`
	Health         EndpointHealth `json:"health"`
}

// EndpointHealth is an endpoint's recent record.
type EndpointHealth struct {
	LastSuccessAt               *time.Time `json:"lastSuccessAt,omitempty"`
	LastFailureAt               *time.Time `json:"lastFailureAt,omitempty"`
	ConsecutiveFailedDeliveries int        `json:"consecutiveFailedDeliveries"`
}

// EndpointParams registers or replaces a user's endpoint.
type EndpointParams struct {
	URL string `json:"url"`
	// EventTypes are exact types or prefixes ending in `*`; none: every type.
	EventTypes  []string `json:"eventTypes,omitempty"`
	Description string   `json:"description,omitempty"`
}

// RecoverParams is the window of a recover: the events created in [Since, Until) (Until zero: now).
type RecoverParams struct {
	Since time.Time
	Until time.Time
}

// User is one user of a set, as returned by Set.Users.
type User struct {
	set *Set
	id  string
}

// Users returns the user with that id. It makes no call.
func (s *Set) Users(userID string) *User { return &User{set: s, id: userID} }

// Endpoints manages the endpoints the user registered.
func (u *User) Endpoints() *Endpoints { return &Endpoints{set: u.set, userID: u.id} }

// Endpoints returns the set's static endpoints (from the configuration): list, pause, resume, recover.
func (s *Set) Endpoints() *Endpoints { return &Endpoints{set: s} }

// Endpoints is either the static endpoints of a set or the endpoints of one user of it.
type Endpoints struct {
	set    *Set
	userID string
}

// errStatic is returned by the calls that only user endpoints have.
var errStatic = errors.New("static endpoints come from the configuration: use Set.Users(id).Endpoints()")

func (e *Endpoints) path(parts ...string) []string {
	if e.userID == "" {
		return e.set.path(append([]string{"endpoints"}, parts...)...)
	}
	return e.set.path(append([]string{"users", e.userID, "endpoints"}, parts...)...)
}

func (e *Endpoints) what(name string) string {
	if e.userID == "" {
		return fmt.Sprintf("endpoint %s of %s", name, e.set.name)
	}
	return fmt.Sprintf("endpoint %s of user %s in %s", name, e.userID, e.set.name)
}

// List returns the endpoints, with their status and health.
func (e *Endpoints) List(ctx context.Context) ([]Endpoint, error) {
	var res struct {
		Endpoints []Endpoint `json:"endpoints"`
	}
	if err := e.set.c.do(ctx, call{method: http.MethodGet, path: e.path()}, &res); err != nil {
		return nil, fmt.Errorf("list endpoints of %s: %w", e.set.name, err)
	}
	return res.Endpoints, nil
}

// Get returns one endpoint (a static one is found in List).
func (e *Endpoints) Get(ctx context.Context, name string) (*Endpoint, error) {
	if e.userID == "" {
		all, err := e.List(ctx)
		if err != nil {
			return nil, err
		}
		for i := range all {
			if all[i].Name == name {
				return &all[i], nil
			}
		}
		return nil, &APIError{Status: http.StatusNotFound, Code: "endpoint_not_found",
			Message: fmt.Sprintf("set %q has no endpoint %q", e.set.name, name)}
	}
	var res Endpoint
	if err := e.set.c.do(ctx, call{method: http.MethodGet, path: e.path(name)}, &res); err != nil {
		return nil, fmt.Errorf("get %s: %w", e.what(name), err)
	}
	return &res, nil
}

// Put registers (created true) or replaces one of the user's endpoints.
func (e *Endpoints) Put(ctx context.Context, name string, p EndpointParams) (ep *Endpoint, created bool, err error) {
	if e.userID == "" {
		return nil, false, errStatic
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, false, fmt.Errorf("encode endpoint: %w", err)
	}
	var res Endpoint
	onSuccess := func(status int, _ http.Header) { created = status == http.StatusCreated }
	if err := e.set.c.do(ctx, call{method: http.MethodPut, path: e.path(name), body: body, onSuccess: onSuccess}, &res); err != nil {
		return nil, false, fmt.Errorf("put %s: %w", e.what(name), err)
	}
	return &res, created, nil
}

// Delete deletes one of the user's endpoints; its deliveries that had not ended end failed. It is retried
// only after a 429 (a retry after a lost answer would find it gone).
func (e *Endpoints) Delete(ctx context.Context, name string) error {
	if e.userID == "" {
		return errStatic
	}
	if err := e.set.c.do(ctx, call{method: http.MethodDelete, path: e.path(name), unsafe: true}, nil); err != nil {
		return fmt.Errorf("delete %s: %w", e.what(name), err)
	}
	return nil
}

// Pause pauses the endpoint: its deliveries are held (status paused) until Resume.
func (e *Endpoints) Pause(ctx context.Context, name string) (*Endpoint, error) {
	return e.action(ctx, name, "pause")
}

// Resume enables a paused or disabled endpoint and releases its held deliveries, oldest first.
func (e *Endpoints) Resume(ctx context.Context, name string) (*Endpoint, error) {
	return e.action(ctx, name, "resume")
}

func (e *Endpoints) action(ctx context.Context, name, action string) (*Endpoint, error) {
	var res Endpoint
	if err := e.set.c.do(ctx, call{method: http.MethodPost, path: e.path(name, action)}, &res); err != nil {
		return nil, fmt.Errorf("%s %s: %w", action, e.what(name), err)
	}
	return &res, nil
}

// Recover queues again, with a fresh retry budget, every failed delivery to the endpoint of the events
// created in the window, and returns how many. It is retried only after a 429.
func (e *Endpoints) Recover(ctx context.Context, name string, p RecoverParams) (int, error) {
	req := struct {
		Since string `json:"since,omitempty"`
		Until string `json:"until,omitempty"`
	}{}
	if !p.Since.IsZero() {
		req.Since = p.Since.UTC().Format(time.RFC3339Nano)
	}
	if !p.Until.IsZero() {
		req.Until = p.Until.UTC().Format(time.RFC3339Nano)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("encode recover: %w", err)
	}
	var res struct {
		Requeued int `json:"requeued"`
	}
	if err := e.set.c.do(ctx, call{method: http.MethodPost, path: e.path(name, "recover"), body: body, unsafe: true}, &res); err != nil {
		return 0, fmt.Errorf("recover %s: %w", e.what(name), err)
	}
	return res.Requeued, nil
}
