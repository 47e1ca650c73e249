package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/outhook/outhook/shared/config"
	"github.com/outhook/outhook/shared/signing"
)

// seedConfig is testdata/valid.yaml built in Go, before defaults.
func seedConfig() *config.Config {
	return &config.Config{Sets: []config.Set{
		{
			Name: "billing-events",
			Endpoints: []config.Endpoint{
				{
					Name: "crm",
					URL:  "https://crm.example.com/hooks/outhook",
					Signing: &config.Signing{
						Header:          "x-outhook-signature",
						TimestampHeader: "x-outhook-timestamp",
						Algorithm:       "hmac-sha256",
						Encoding:        "hex",
						Secret:          "CRM_WEBHOOK_SIGNING_SECRET",
					},
				},
				{Name: "warehouse", URL: "https://warehouse.example.com/events"},
			},
		},
		{
			Name:                  "customer-events",
			RotationWindowSeconds: 3600,
			Endpoints:             []config.Endpoint{{Name: "customer", URL: "https://customer.example.com/hooks"}},
		},
		{
			Name:          "partner-events",
			RetentionDays: 90,
			Endpoints: []config.Endpoint{{
				Name:           "partner",
				URL:            "https://partner.example.com/webhooks",
				TimeoutSeconds: 10,
				Signing: &config.Signing{
					Header:          "x-outhook-signature",
					TimestampHeader: "x-outhook-timestamp",
					SignedPayload:   "timestamp.rawBody",
					Secret:          "PARTNER_SIGNING_SECRET",
				},
				Retry: &config.Retry{Attempts: 8, Backoff: "exponential", InitialDelaySeconds: 10, MaxDelaySeconds: 600},
			}},
		},
	}}
}

func TestLoad_ValidYAML(t *testing.T) {
	t.Parallel()

	cfg := resolve(t, filepath.Join("testdata", "valid.yaml"))

	billing, ok := cfg.Set("billing-events")
	require.True(t, ok)
	crm, ok := billing.Endpoint("crm")
	require.True(t, ok)
	require.Equal(t, &config.Signing{
		Header:          "x-outhook-signature",
		TimestampHeader: "x-outhook-timestamp",
		SignedPayload:   "id.timestamp.rawBody",
		Algorithm:       "hmac-sha256",
		Encoding:        "hex",
		Secret:          "CRM_WEBHOOK_SIGNING_SECRET",
	}, crm.Signing)
	require.Equal(t, 15*time.Second, crm.Timeout)
	require.Equal(t, config.Retry{Attempts: 5, Backoff: "exponential", InitialDelaySeconds: 30, MaxDelaySeconds: 3600},
		crm.Retry)
	require.Equal(t, 24*time.Hour, billing.RotationWindow)
	require.Equal(t, 30*24*time.Hour, billing.Retention)

	warehouse, ok := billing.Endpoint("warehouse")
	require.True(t, ok)
	require.Nil(t, warehouse.Signing)
	require.False(t, warehouse.AllowPrivateNetwork)

	customer, ok := cfg.Set("customer-events")
	require.True(t, ok)
	require.Equal(t, time.Hour, customer.RotationWindow)

	partner, ok := cfg.Set("partner-events")
	require.True(t, ok)
	require.Equal(t, 90*24*time.Hour, partner.Retention)
	p, ok := partner.Endpoint("partner")
	require.True(t, ok)
	require.Equal(t, config.Retry{Attempts: 8, Backoff: "exponential", InitialDelaySeconds: 10, MaxDelaySeconds: 600},
		p.Retry)
	require.Equal(t, 10*time.Second, p.Timeout)
	require.Equal(t, signing.EncodingBase64, p.Signing.Encoding)

	_, ok = cfg.Set("nope")
	require.False(t, ok)
	_, ok = billing.Endpoint("nope")
	require.False(t, ok)

	require.Equal(t, []string{"CRM_WEBHOOK_SIGNING_SECRET", "PARTNER_SIGNING_SECRET"}, cfg.SecretNames())
}

func TestLoad_ValidJSON(t *testing.T) {
	t.Parallel()

	cfg := resolve(t, filepath.Join("testdata", "valid.json"))
	set, ok := cfg.Set("orders")
	require.True(t, ok)
	erp, ok := set.Endpoint("erp")
	require.True(t, ok)
	require.True(t, erp.AllowPrivateNetwork)
	require.Equal(t, &config.Signing{Secret: "ERP_SECRET", Algorithm: "hmac-sha256"}, erp.Signing)
	require.Equal(t, config.Retry{Attempts: 3, Backoff: "fixed", InitialDelaySeconds: 1, MaxDelaySeconds: 3600},
		erp.Retry)
}

// resolve loads the config file at path and resolves it.
func resolve(t *testing.T, path string) *config.Resolved {
	t.Helper()
	cfg, err := config.Load(path)
	require.NoError(t, err)
	r, err := cfg.Validate()
	require.NoError(t, err)
	return r
}

func TestLoad_MissingFile(t *testing.T) {
	t.Parallel()

	_, err := config.Load(filepath.Join(t.TempDir(), "absent.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestConfig_Validate_GoMatchesYAML(t *testing.T) {
	t.Parallel()

	fromYAML, err := config.Load(filepath.Join("testdata", "valid.yaml"))
	require.NoError(t, err)
	fromGo := seedConfig()
	require.Equal(t, fromYAML, fromGo)
	resolved, err := fromGo.Validate()
	require.NoError(t, err)
	require.Equal(t, resolve(t, filepath.Join("testdata", "valid.yaml")), resolved)

	// The config is left as written: no default is filled into it.
	require.Equal(t, seedConfig(), fromGo)
	require.Nil(t, fromGo.Sets[0].Endpoints[1].Retry)
	require.Zero(t, fromGo.Sets[0].Endpoints[0].TimeoutSeconds)
}

func TestConfig_Validate_ResolvedIsACopy(t *testing.T) {
	t.Parallel()

	cfg := seedConfig()
	resolved, err := cfg.Validate()
	require.NoError(t, err)
	set, ok := resolved.Set("billing-events")
	require.True(t, ok)
	crm, ok := set.Endpoint("crm")
	require.True(t, ok)
	crm.Signing.Header = "x-changed"
	require.NotEqual(t, "x-changed", cfg.Sets[0].Endpoints[0].Signing.Header)
}

func TestConfig_Validate_Nil(t *testing.T) {
	t.Parallel()

	var c *config.Config
	_, err := c.Validate()
	require.Error(t, err)
}

func TestParse_Errors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		yaml string
		want []string // every substring must appear in the error
	}{
		{"empty", ``, []string{"config is empty"}},
		{"syntax", "sets: [", []string{"parse config"}},
		{"two documents", "sets: []\n---\nsets: []\n", []string{"more than one YAML document"}},
		{"top level not a mapping", "- a\n", []string{"(top level): must be a mapping"}},
		{"unknown top-level key", "sets: []\nset: []\n", []string{"set: unknown field (line 2)"}},
		{"unknown endpoint key", `
sets:
  - name: a
    endpoints:
      - name: e
        url: https://x.example
        sigining: {secret: S}
`, []string{"sets[0].endpoints[0].sigining: unknown field (line 7)"}},
		{"unknown signing key", `
sets:
  - name: a
    endpoints:
      - name: e
        url: https://x.example
        signing: {secret: S, encodng: hex}
`, []string{"sets[0].endpoints[0].signing.encodng: unknown field"}},
		{"duplicate key", `
sets:
  - name: a
    name: b
    endpoints: [{name: e, url: https://x.example}]
`, []string{"sets[0].name: duplicate key, first at line 3"}},
		{"wrong type int", `
sets:
  - name: a
    endpoints:
      - {name: e, url: https://x.example, timeoutSeconds: soon}
`, []string{"sets[0].endpoints[0].timeoutSeconds: must be an integer (line 5)"}},
		{"wrong type bool", `
sets:
  - name: a
    endpoints:
      - {name: e, url: https://x.example, allowPrivateNetwork: [1]}
`, []string{"sets[0].endpoints[0].allowPrivateNetwork: must be a single value"}},
		{"sets not a list", "sets: {a: 1}\n", []string{"sets: must be a list (line 1)"}},
		{"retry not a mapping", `
sets:
  - name: a
    endpoints:
      - {name: e, url: https://x.example, retry: 3}
`, []string{"sets[0].endpoints[0].retry: must be a mapping"}},
		{"no sets", "sets: []\n", []string{"sets: at least one set is required"}},
		{"several errors at once", `
sets:
  - name: Bad
    endpoints:
      - {name: e, url: "ftp://x.example"}
`, []string{"sets[0].name:", "sets[0].endpoints[0].url: must be an absolute http or https URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse([]byte(tt.yaml))
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestConfig_Validate_Errors(t *testing.T) {
	t.Parallel()

	valid := func() *config.Config {
		return &config.Config{Sets: []config.Set{
			{Name: "a", Endpoints: []config.Endpoint{{Name: "e", URL: "https://x.example/hook"}}},
			{Name: "b", Endpoints: []config.Endpoint{
				{Name: "e", URL: "https://y.example/hook"},
				{Name: "f", URL: "https://z.example/hook", Signing: &config.Signing{Secret: "S"},
					Retry: &config.Retry{Attempts: 3}},
			}},
		}}
	}
	_, err := valid().Validate()
	require.NoError(t, err)

	tests := []struct {
		name   string
		mutate func(c *config.Config)
		path   string
		msg    string
	}{
		{"no sets", func(c *config.Config) { c.Sets = nil }, "sets", "at least one set"},
		{"empty set name", func(c *config.Config) { c.Sets[0].Name = "" }, "sets[0].name", "is required"},
		{"upper-case set name", func(c *config.Config) { c.Sets[0].Name = "Billing" }, "sets[0].name", "must match"},
		{"set name starts with dash", func(c *config.Config) { c.Sets[0].Name = "-a" }, "sets[0].name", "must match"},
		{"set name too long", func(c *config.Config) { c.Sets[0].Name = strings.Repeat("a", 65) },
			"sets[0].name", "at most 64"},
		{"duplicate set", func(c *config.Config) { c.Sets[1].Name = "a" }, "sets[1].name", `duplicate set name "a"`},
		{"no endpoints", func(c *config.Config) { c.Sets[0].Endpoints = nil }, "sets[0].endpoints", "at least one"},
		{"empty endpoint name", func(c *config.Config) { c.Sets[1].Endpoints[1].Name = "" },
			"sets[1].endpoints[1].name", "is required"},
		{"bad endpoint name", func(c *config.Config) { c.Sets[1].Endpoints[1].Name = "a b" },
			"sets[1].endpoints[1].name", "must match"},
		{"duplicate endpoint", func(c *config.Config) { c.Sets[1].Endpoints[1].Name = "e" },
			"sets[1].endpoints[1].name", `duplicate endpoint name "e"`},
		{"missing url", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "" }, "sets[0].endpoints[0].url",
			"is required"},
		{"relative url", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "/hook" }, "sets[0].endpoints[0].url",
			"absolute http or https"},
		{"ftp url", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "ftp://x.example/" },
			"sets[0].endpoints[0].url", "absolute http or https"},
		{"url without host", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "https:///hook" },
			"sets[0].endpoints[0].url", "must have a host"},
		{"unparsable url", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "https://x.example/%zz" },
			"sets[0].endpoints[0].url", "not a valid URL"},
		{"url with credentials", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "https://u:p@x.example/" },
			"sets[0].endpoints[0].url", "must not contain credentials"},
		{"negative timeout", func(c *config.Config) { c.Sets[0].Endpoints[0].TimeoutSeconds = -1 },
			"sets[0].endpoints[0].timeoutSeconds", "between 1 and 600"},
		{"timeout too long for a Lambda invocation", func(c *config.Config) { c.Sets[0].Endpoints[0].TimeoutSeconds = 900 },
			"sets[0].endpoints[0].timeoutSeconds", "between 1 and 600"},
		{"url port too large", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "https://x.example:99999/" },
			"sets[0].endpoints[0].url", "port 99999 is not a TCP port"},
		{"url port 0", func(c *config.Config) { c.Sets[0].Endpoints[0].URL = "http://x.example:0/" },
			"sets[0].endpoints[0].url", "port 0 is not a TCP port"},
		{"negative rotation window", func(c *config.Config) { c.Sets[1].RotationWindowSeconds = -1 },
			"sets[1].rotationWindowSeconds", "between 1 and"},
		{"rotation window too long", func(c *config.Config) { c.Sets[1].RotationWindowSeconds = 400 * 86400 },
			"sets[1].rotationWindowSeconds", "between 1 and"},
		{"negative retention", func(c *config.Config) { c.Sets[1].RetentionDays = -1 },
			"sets[1].retentionDays", "between 1 and 3650"},
		{"retention too long", func(c *config.Config) { c.Sets[1].RetentionDays = 3651 },
			"sets[1].retentionDays", "between 1 and 3650"},
		{"attempts zero", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.Attempts = 0 },
			"sets[1].endpoints[1].retry.attempts", "must be at least 1"},
		{"attempts too many", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.Attempts = 51 },
			"sets[1].endpoints[1].retry.attempts", "at most 50"},
		{"bad backoff", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.Backoff = "linear" },
			"sets[1].endpoints[1].retry.backoff", `"linear" is not supported`},
		{"negative initial", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.InitialDelaySeconds = -1 },
			"sets[1].endpoints[1].retry.initialDelaySeconds", "between 0 and 604800"},
		{"initial too long", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.InitialDelaySeconds = 604801 },
			"sets[1].endpoints[1].retry.initialDelaySeconds", "between 0 and 604800"},
		{"negative max", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.MaxDelaySeconds = -1 },
			"sets[1].endpoints[1].retry.maxDelaySeconds", "between 1 and 604800"},
		{"max too long", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.MaxDelaySeconds = 604801 },
			"sets[1].endpoints[1].retry.maxDelaySeconds", "between 1 and 604800"},
		{"initial above max", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Retry.InitialDelaySeconds = 60
			c.Sets[1].Endpoints[1].Retry.MaxDelaySeconds = 10
		}, "sets[1].endpoints[1].retry.initialDelaySeconds", "must not exceed maxDelaySeconds (10)"},
		{"initial above default max", func(c *config.Config) { c.Sets[1].Endpoints[1].Retry.InitialDelaySeconds = 7200 },
			"sets[1].endpoints[1].retry.maxDelaySeconds", "is required when initialDelaySeconds exceeds"},
		{"bad algorithm", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.Algorithm = "hmac-sha1" },
			"sets[1].endpoints[1].signing.algorithm", `"hmac-sha1" is not supported`},
		{"bad secret name", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.Secret = "MY SECRET" },
			"sets[1].endpoints[1].signing.secret", "must be a secret name"},
		{"secret name too long", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.Secret = strings.Repeat("S", 513) },
			"sets[1].endpoints[1].signing.secret", "at most 512"},
		{"encoding without header", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.Encoding = "hex" },
			"sets[1].endpoints[1].signing.header", "is required when"},
		{"timestamp header without header", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.TimestampHeader = "x-ts"
		}, "sets[1].endpoints[1].signing.header", "is required when"},
		{"signed payload without header", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "rawBody"
		}, "sets[1].endpoints[1].signing.header", "is required when"},
		{"bad header name", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x sig"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "rawBody"
		}, "sets[1].endpoints[1].signing.header", "not a valid HTTP header name"},
		{"bad timestamp header name", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.TimestampHeader = "x:ts"
		}, "sets[1].endpoints[1].signing.timestampHeader", "not a valid HTTP header name"},
		{"reserved header name", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "Webhook-Id"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "rawBody"
		}, "sets[1].endpoints[1].signing.header", "is set by the sender"},
		{"reserved timestamp header name", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.TimestampHeader = "content-type"
		}, "sets[1].endpoints[1].signing.timestampHeader", "is set by the sender"},
		{"timestamp header same as header", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.TimestampHeader = "X-Sig"
		}, "sets[1].endpoints[1].signing.timestampHeader", "must differ from header"},
		{"bad encoding", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "rawBody"
			c.Sets[1].Endpoints[1].Signing.Encoding = "base32"
		}, "sets[1].endpoints[1].signing.encoding", `"base32" is not supported`},
		{"bad signed payload", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "body"
		}, "sets[1].endpoints[1].signing.signedPayload", `"body" is not supported`},
		{"id payload needs timestamp header", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "id.timestamp.rawBody"
		}, "sets[1].endpoints[1].signing.timestampHeader", "is required when signedPayload is id.timestamp.rawBody"},
		{"timestamp payload needs timestamp header", func(c *config.Config) {
			c.Sets[1].Endpoints[1].Signing.Header = "x-sig"
			c.Sets[1].Endpoints[1].Signing.SignedPayload = "timestamp.rawBody"
		}, "sets[1].endpoints[1].signing.timestampHeader", "is required when signedPayload is timestamp.rawBody"},
		{"signing block without a secret", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.Secret = "" },
			"sets[1].endpoints[1].signing", "needs secret (the name of a signing secret) or userSecret: true"},
		{"named and user secret", func(c *config.Config) { c.Sets[1].Endpoints[1].Signing.UserSecret = true },
			"sets[1].endpoints[1].signing.userSecret", "cannot be combined with secret"},
		{"empty event type pattern", func(c *config.Config) { c.Sets[0].Endpoints[0].EventTypes = []string{"a", ""} },
			"sets[0].endpoints[0].eventTypes[1]", "must not be empty"},
		{"star inside pattern", func(c *config.Config) { c.Sets[0].Endpoints[0].EventTypes = []string{"in*.paid"} },
			"sets[0].endpoints[0].eventTypes[0]", "may only end a pattern"},
		{"space in pattern", func(c *config.Config) { c.Sets[0].Endpoints[0].EventTypes = []string{"invoice paid"} },
			"sets[0].endpoints[0].eventTypes[0]", "must not contain spaces"},
		{"pattern too long", func(c *config.Config) { c.Sets[0].Endpoints[0].EventTypes = []string{strings.Repeat("a", 257)} },
			"sets[0].endpoints[0].eventTypes[0]", "at most 256"},
		{"auto-disable zero deliveries", func(c *config.Config) {
			c.Sets[0].Endpoints[0].AutoDisable = &config.AutoDisable{AfterFailedDeliveries: 0}
		}, "sets[0].endpoints[0].autoDisable.afterFailedDeliveries", "between 1 and"},
		{"auto-disable negative seconds", func(c *config.Config) {
			c.Sets[0].Endpoints[0].AutoDisable = &config.AutoDisable{AfterFailedDeliveries: 3, AfterSeconds: -1}
		}, "sets[0].endpoints[0].autoDisable.afterSeconds", "between 0 and"},
		{"max per user negative", func(c *config.Config) {
			c.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: true, MaxPerUser: -1}
		}, "sets[0].userEndpoints.maxPerUser", "between 1 and"},
		{"user endpoints timeout", func(c *config.Config) {
			c.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: true, TimeoutSeconds: 901}
		}, "sets[0].userEndpoints.timeoutSeconds", "between 1 and 600"},
		{"user endpoints retry", func(c *config.Config) {
			c.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: true, Retry: &config.Retry{Attempts: 0}}
		}, "sets[0].userEndpoints.retry.attempts", "at least 1"},
		{"user endpoints auto-disable", func(c *config.Config) {
			c.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: true, AutoDisable: &config.AutoDisable{}}
		}, "sets[0].userEndpoints.autoDisable.afterFailedDeliveries", "between 1 and"},
		{"no endpoints and user endpoints off", func(c *config.Config) {
			c.Sets[0].Endpoints = nil
			c.Sets[0].UserEndpoints = &config.UserEndpoints{Enabled: false}
		}, "sets[0].endpoints", "at least one endpoint"},
		{"unknown disabled-event set", func(c *config.Config) {
			c.Sets[0].OnEndpointDisabled = &config.EndpointDisabledHook{Set: "nope"}
		}, "sets[0].onEndpointDisabled.set", `"nope" is not a set`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			tt.mutate(c)
			_, err := c.Validate()
			require.Error(t, err)
			var fe *config.FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.path, fe.Path, err.Error())
			require.Contains(t, fe.Message, tt.msg)
			require.Contains(t, err.Error(), tt.path+": ")
		})
	}
}

func TestConfig_Validate_ReportsEveryField(t *testing.T) {
	t.Parallel()

	c := &config.Config{Sets: []config.Set{{Name: "a", Endpoints: []config.Endpoint{
		{Name: "e", URL: "nope", Retry: &config.Retry{Attempts: 0}},
	}}}}
	_, err := c.Validate()
	require.Error(t, err)
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *config.FieldError
		require.True(t, errors.As(e, &fe))
		paths = append(paths, fe.Path)
	}
	require.Equal(t, []string{"sets[0].endpoints[0].url", "sets[0].endpoints[0].retry.attempts"}, paths)
}

func TestConfig_Validate_CustomSchemeDefaults(t *testing.T) {
	t.Parallel()

	c := &config.Config{Sets: []config.Set{{Name: "a", Endpoints: []config.Endpoint{{
		Name: "e", URL: "https://x.example", Signing: &config.Signing{Header: "x-sig", TimestampHeader: "x-ts", UserSecret: true},
	}}}}}
	r, err := c.Validate()
	require.NoError(t, err)
	require.Equal(t, &config.Signing{
		Header: "x-sig", TimestampHeader: "x-ts", SignedPayload: "id.timestamp.rawBody", Algorithm: "hmac-sha256",
		Encoding: "base64", UserSecret: true,
	}, r.Sets[0].Endpoints[0].Signing)

	// The reference page's block: a header and an encoding, no timestamp header, signs the body alone.
	seed := &config.Config{Sets: []config.Set{{Name: "a", Endpoints: []config.Endpoint{{
		Name: "crm", URL: "https://crm.example.com/hooks", Signing: &config.Signing{
			Header: "x-sig", Algorithm: "hmac-sha256", Encoding: "hex", Secret: "CRM_WEBHOOK_SIGNING_SECRET"},
	}}}}}
	r, err = seed.Validate()
	require.NoError(t, err)
	require.Equal(t, signing.PayloadRawBody, r.Sets[0].Endpoints[0].Signing.SignedPayload)
}

func TestConfig_Validate_ZeroMeansDefault(t *testing.T) {
	t.Parallel()

	c := &config.Config{Sets: []config.Set{{Name: "a", Endpoints: []config.Endpoint{{Name: "e", URL: "https://x.example"}}}}}
	r, err := c.Validate()
	require.NoError(t, err)
	s := r.Sets[0]
	require.Equal(t, 24*time.Hour, s.RotationWindow)
	require.Equal(t, 30*24*time.Hour, s.Retention)
	require.Equal(t, 15*time.Second, s.Endpoints[0].Timeout)
	require.Equal(t, 15*time.Second, r.LongestTimeout())
}

func TestResolvedSet_Endpoint_PointsIntoSet(t *testing.T) {
	t.Parallel()

	cfg := seedConfig()
	r, err := cfg.Validate()
	require.NoError(t, err)
	set, ok := r.Set("billing-events")
	require.True(t, ok)
	e, ok := set.Endpoint("warehouse")
	require.True(t, ok)
	e.Timeout = 7 * time.Second
	require.Equal(t, 7*time.Second, r.Sets[0].Endpoints[1].Timeout)
}

func TestParse_AnchorsAndMergeKeys(t *testing.T) {
	t.Parallel()

	cfg, err := config.Parse([]byte(`
sets:
  - name: a
    endpoints:
      - name: e
        url: https://x.example
        retry: &quick {attempts: 3, initialDelaySeconds: 1, maxDelaySeconds: 5}
      - name: f
        url: https://y.example
        retry: *quick
      - name: g
        url: https://z.example
        retry:
          <<: *quick
          backoff: fixed
`))
	require.NoError(t, err)
	r, err := cfg.Validate()
	require.NoError(t, err)
	quick := config.Retry{Attempts: 3, Backoff: "exponential", InitialDelaySeconds: 1, MaxDelaySeconds: 5}
	require.Equal(t, quick, r.Sets[0].Endpoints[0].Retry)
	require.Equal(t, quick, r.Sets[0].Endpoints[1].Retry)
	quick.Backoff = "fixed"
	require.Equal(t, quick, r.Sets[0].Endpoints[2].Retry)

	_, err = config.Parse([]byte(`
sets:
  - name: a
    endpoints:
      - name: e
        url: https://x.example
        retry: &bad {attempts: 3, tries: 2}
      - name: f
        url: https://y.example
        retry:
          <<: [*bad]
`))
	require.ErrorContains(t, err, "sets[0].endpoints[0].retry.tries: unknown field")
	require.ErrorContains(t, err, "sets[0].endpoints[1].retry.tries: unknown field")
}

// TestCheckEventTypePattern_CountsCharacters: a pattern may be as long as an event type, which send counts
// in characters (the OpenAPI maxLength), not bytes.
func TestCheckEventTypePattern_CountsCharacters(t *testing.T) {
	t.Parallel()
	require.Empty(t, config.CheckEventTypePattern(strings.Repeat("é", config.MaxEventTypeLength)))
	require.Contains(t, config.CheckEventTypePattern(strings.Repeat("é", config.MaxEventTypeLength+1)), "at most 256")
}

func TestParse_UserSecret(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte("sets: [{name: a, endpoints: [{name: e, url: 'https://a.test/', signing: {userSecret: true}}]}]"))
	require.NoError(t, err)
	r, err := cfg.Validate()
	require.NoError(t, err)
	require.True(t, r.Sets[0].Endpoints[0].NeedsUser())
	require.Empty(t, r.SecretNames())
	_, err = config.Parse([]byte("sets: [{name: a, endpoints: [{name: e, url: 'https://a.test/', signing: {userSecret: yes}}]}]"))
	require.ErrorContains(t, err, "sets[0].endpoints[0].signing.userSecret: must be true or false")
}

// TestParse_ExampleConfigs: the example configs' customer-facing endpoints require the user's secret, so a
// send without a userId is refused instead of going out unsigned.
func TestParse_ExampleConfigs(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"../../webhooks.example.yaml", "../../localstack/webhooks.yaml"} {
		cfg, err := config.Load(path)
		require.NoError(t, err, path)
		r, err := cfg.Validate()
		require.NoError(t, err, path)
		set, ok := r.Set("customer-events")
		require.True(t, ok, path)
		for _, ep := range set.Endpoints {
			require.True(t, ep.NeedsUser(), "%s: %s", path, ep.Name)
		}
	}
}

// aliasBomb is a "billion laughs" configuration: each level merges the previous one ten times, so the
// last of levels sets expands to 10^(levels-1) copies of the first.
func aliasBomb(levels int) []byte {
	var b strings.Builder
	b.WriteString("sets:\n  - &a0 {name: s, endpoints: [{name: e, url: 'https://a.test/'}]}\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  - &a%d {<<: [%s]}\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	return []byte(b.String())
}

func TestParse_RefusesAnAliasBomb(t *testing.T) {
	t.Parallel()
	bomb := aliasBomb(9)
	require.Less(t, len(bomb), 600)
	_, err := config.Parse(bomb)
	require.ErrorContains(t, err, "aliases and merge keys expand it by more than 100000 YAML nodes")
}

// BenchmarkParse_AliasBomb measures how fast the bomb is refused (19.5 s for a 494-byte file before the
// bound, and ten times longer per level).
func BenchmarkParse_AliasBomb(b *testing.B) {
	bomb := aliasBomb(12)
	for b.Loop() {
		if _, err := config.Parse(bomb); err == nil {
			b.Fatal("the bomb was accepted")
		}
	}
}

// TestParse_BooleansAreTrueOrFalse: only the YAML booleans true and false set a boolean field; the YAML 1.1
// words (yes, on, ...) and quoted strings are refused, whatever they would mean.
func TestParse_BooleansAreTrueOrFalse(t *testing.T) {
	t.Parallel()
	doc := func(v string) []byte {
		return []byte("sets: [{name: a, endpoints: [{name: e, url: 'https://a.test/', allowPrivateNetwork: " + v + "}]}]")
	}
	for v, want := range map[string]bool{"true": true, "false": false, "True": true, "FALSE": false} {
		cfg, err := config.Parse(doc(v))
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.Sets[0].Endpoints[0].AllowPrivateNetwork, v)
	}
	for _, v := range []string{`"yes"`, "yes", "on", "y", "no", "off", `"true"`, `'false'`, "1", "0", "tRuE"} {
		_, err := config.Parse(doc(v))
		require.ErrorContains(t, err, "sets[0].endpoints[0].allowPrivateNetwork: must be true or false", v)
	}
}

// FuzzParse checks that Parse never panics, and that whatever it accepts is valid, stable under Validate and
// survives a round trip through YAML unchanged.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"valid.yaml", "valid.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte("sets: [{name: a, endpoints: [{name: e, url: 'http://h', retry: {attempts: 1}}]}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data)
		if err != nil {
			return
		}
		_, err = cfg.Validate()
		require.NoError(t, err)
		out, err := yaml.Marshal(cfg)
		require.NoError(t, err)
		back, err := config.Parse(out)
		require.NoError(t, err, string(out))
		require.Equal(t, cfg, back)
	})
}

func TestParse_EndpointsAtRuntime(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(`
sets:
  - name: customer-events
    onEndpointDisabled: {set: ops}
    userEndpoints:
      enabled: true
      maxPerUser: 3
      autoDisable: {afterFailedDeliveries: 3, afterSeconds: 0}
  - name: ops
    endpoints:
      - name: pager
        url: https://pager.example.com/hook
        eventTypes: ["endpoint.*", "invoice.paid"]
`))
	require.NoError(t, err)
	r, err := cfg.Validate()
	require.NoError(t, err)
	customer, ok := r.Set("customer-events")
	require.True(t, ok)
	require.NotNil(t, customer.UserEndpoints)
	require.Empty(t, customer.Endpoints)
	require.Equal(t, 3, customer.UserEndpoints.MaxPerUser)
	require.Equal(t, 15*time.Second, customer.UserEndpoints.Timeout)
	require.Equal(t, config.AutoDisable{AfterFailedDeliveries: 3}, customer.UserEndpoints.AutoDisable)
	require.Equal(t, 5, customer.UserEndpoints.Retry.Attempts)
	require.Equal(t, "ops", customer.OnEndpointDisabled)
	require.Equal(t, 15*time.Second, r.LongestTimeout())

	ops, _ := r.Set("ops")
	require.Nil(t, ops.UserEndpoints)
	require.Empty(t, ops.OnEndpointDisabled)
	pager, _ := ops.Endpoint("pager")
	require.Equal(t, config.AutoDisable{AfterFailedDeliveries: 5, AfterSeconds: 432000}, pager.AutoDisable)
	require.True(t, pager.Accepts("endpoint.disabled"))
	require.True(t, pager.Accepts("invoice.paid"))
	require.False(t, pager.Accepts("invoice.created"))
}

func TestMatchEventTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		patterns []string
		typ      string
		want     bool
	}{
		{nil, "anything", true},
		{[]string{"*"}, "anything", true},
		{[]string{"invoice.paid"}, "invoice.paid", true},
		{[]string{"invoice.paid"}, "invoice.paid.late", false},
		{[]string{"invoice.*"}, "invoice.paid", true},
		{[]string{"invoice.*"}, "invoice", false},
		{[]string{"invoice*"}, "invoices.x", true},
		{[]string{"user.created", "invoice.*"}, "user.deleted", false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, config.MatchEventTypes(tt.patterns, tt.typ), "%v %q", tt.patterns, tt.typ)
	}
}
