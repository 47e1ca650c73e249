package config

import (
	"slices"
	"time"
)

// Resolved is a valid configuration with every default applied: what the services run on. Validate builds
// it from a Config, which it leaves as written. Fields whose zero value or nil pointer in Config only meant
// "use the default" are plain values here.
type Resolved struct {
	Sets []ResolvedSet
}

// ResolvedSet is a Set with its defaults applied.
type ResolvedSet struct {
	Name      string
	Endpoints []ResolvedEndpoint
	// RotationWindow is how long a user's previous managed secret keeps signing after a rotation.
	RotationWindow time.Duration
	// Retention is how long the set's events are kept.
	Retention time.Duration
	// UserEndpoints is the rule for the endpoints the set's users register; nil when they may not.
	UserEndpoints *ResolvedUserEndpoints
	// OnEndpointDisabled is the set an `endpoint.disabled` event is sent to; "" for none.
	OnEndpointDisabled string
}

// ResolvedUserEndpoints is a UserEndpoints block with its defaults applied.
type ResolvedUserEndpoints struct {
	MaxPerUser          int
	Timeout             time.Duration
	Retry               Retry
	AutoDisable         AutoDisable
	AllowPrivateNetwork bool
}

// ResolvedEndpoint is an Endpoint with its defaults applied.
type ResolvedEndpoint struct {
	Name string
	URL  string
	// Signing is the endpoint's signing block with its defaults applied, or nil when the endpoint has none
	// (Standard Webhooks with a user's managed secret, unsigned without a user).
	Signing *Signing
	// Retry is the endpoint's retry policy, the default one when the endpoint has no retry block.
	Retry Retry
	// Timeout bounds one POST (connect to last byte).
	Timeout             time.Duration
	AllowPrivateNetwork bool
	// EventTypes selects the event types the endpoint receives (none: every type).
	EventTypes []string
	// AutoDisable is the endpoint's auto-disable rule.
	AutoDisable AutoDisable
}

// NeedsUser reports whether the endpoint signs with the user's managed secret (signing.userSecret), so that
// every send that reaches it must name a user.
func (e ResolvedEndpoint) NeedsUser() bool { return e.Signing != nil && e.Signing.UserSecret }

// Accepts reports whether the endpoint's eventTypes select events of type typ.
func (e ResolvedEndpoint) Accepts(typ string) bool { return MatchEventTypes(e.EventTypes, typ) }

// Set returns the set with the given name.
func (r *Resolved) Set(name string) (*ResolvedSet, bool) {
	for i := range r.Sets {
		if r.Sets[i].Name == name {
			return &r.Sets[i], true
		}
	}
	return nil, false
}

// SecretNames returns the named signing secrets the endpoints reference, sorted, without duplicates.
func (r *Resolved) SecretNames() []string {
	var names []string
	for _, s := range r.Sets {
		for _, e := range s.Endpoints {
			if e.Signing != nil && e.Signing.Secret != "" {
				names = append(names, e.Signing.Secret)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// LongestTimeout is the largest endpoint timeout of the configuration.
func (r *Resolved) LongestTimeout() time.Duration {
	var longest time.Duration
	for _, s := range r.Sets {
		for _, e := range s.Endpoints {
			longest = max(longest, e.Timeout)
		}
		if s.UserEndpoints != nil {
			longest = max(longest, s.UserEndpoints.Timeout)
		}
	}
	return longest
}

// Endpoint returns the set's endpoint with the given name. The pointer refers to the set's own element.
func (s *ResolvedSet) Endpoint(name string) (*ResolvedEndpoint, bool) {
	for i := range s.Endpoints {
		if s.Endpoints[i].Name == name {
			return &s.Endpoints[i], true
		}
	}
	return nil, false
}

// clone returns a deep copy of c, so that filling in defaults leaves c alone.
func (c *Config) clone() Config {
	out := Config{Sets: slices.Clone(c.Sets)}
	for i := range out.Sets {
		s := &out.Sets[i]
		s.Endpoints = slices.Clone(s.Endpoints)
		for j := range s.Endpoints {
			e := &s.Endpoints[j]
			if e.Signing != nil {
				sg := *e.Signing
				e.Signing = &sg
			}
			if e.Retry != nil {
				r := *e.Retry
				e.Retry = &r
			}
			if e.AutoDisable != nil {
				a := *e.AutoDisable
				e.AutoDisable = &a
			}
			e.EventTypes = slices.Clone(e.EventTypes)
		}
		if s.UserEndpoints != nil {
			u := *s.UserEndpoints
			if u.Retry != nil {
				r := *u.Retry
				u.Retry = &r
			}
			if u.AutoDisable != nil {
				a := *u.AutoDisable
				u.AutoDisable = &a
			}
			s.UserEndpoints = &u
		}
		if s.OnEndpointDisabled != nil {
			h := *s.OnEndpointDisabled
			s.OnEndpointDisabled = &h
		}
	}
	return out
}

// resolved converts a validated copy whose defaults are filled in.
func (c *Config) resolved() *Resolved {
	out := &Resolved{Sets: make([]ResolvedSet, 0, len(c.Sets))}
	for _, s := range c.Sets {
		rs := ResolvedSet{
			Name:           s.Name,
			Endpoints:      make([]ResolvedEndpoint, 0, len(s.Endpoints)),
			RotationWindow: time.Duration(s.RotationWindowSeconds) * time.Second,
			Retention:      time.Duration(s.RetentionDays) * 24 * time.Hour,
		}
		if u := s.UserEndpoints; u != nil && u.Enabled {
			rs.UserEndpoints = &ResolvedUserEndpoints{MaxPerUser: u.MaxPerUser,
				Timeout: time.Duration(u.TimeoutSeconds) * time.Second, Retry: *u.Retry,
				AutoDisable: *u.AutoDisable, AllowPrivateNetwork: u.AllowPrivateNetwork}
		}
		if s.OnEndpointDisabled != nil {
			rs.OnEndpointDisabled = s.OnEndpointDisabled.Set
		}
		for _, e := range s.Endpoints {
			rs.Endpoints = append(rs.Endpoints, ResolvedEndpoint{
				Name:                e.Name,
				URL:                 e.URL,
				Signing:             e.Signing,
				Retry:               *e.Retry,
				Timeout:             time.Duration(e.TimeoutSeconds) * time.Second,
				AllowPrivateNetwork: e.AllowPrivateNetwork,
				EventTypes:          e.EventTypes,
				AutoDisable:         *e.AutoDisable,
			})
		}
		out.Sets = append(out.Sets, rs)
	}
	return out
}
