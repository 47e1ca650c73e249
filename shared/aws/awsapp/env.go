package awsapp

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"time"
)

// Environment variables of the functions (set by the CDK app).
const (
	EnvConfigFile        = "OUTHOOK_CONFIG_FILE"         // the webhook-set config; relative to LAMBDA_TASK_ROOT if relative
	EnvTable             = "OUTHOOK_TABLE"               // the DynamoDB table of the event log
	EnvQueueURL          = "OUTHOOK_QUEUE_URL"           // the SQS delivery queue
	EnvUserSecretPrefix  = "OUTHOOK_USER_SECRET_PREFIX"  // Secrets Manager name prefix of per-user secrets
	EnvNamedSecretPrefix = "OUTHOOK_NAMED_SECRET_PREFIX" // Secrets Manager name prefix of named signing secrets
	EnvCursorKey         = "OUTHOOK_CURSOR_KEY"          // optional: key that authenticates list cursors
	EnvUserSecretCache   = "OUTHOOK_USER_SECRET_CACHE"   // optional: deliver's per-user secret cache TTL (Go duration)
	envTaskRoot          = "LAMBDA_TASK_ROOT"            // set by Lambda: where the function package is unpacked
)

// Env is the functions' configuration, read from the environment.
type Env struct {
	ConfigFile        string
	Table             string
	QueueURL          string
	UserSecretPrefix  string
	NamedSecretPrefix string
	CursorKey         []byte
	// UserSecretCacheTTL is how long deliver serves a user's secret from memory. Default
	// DefaultUserSecretCacheTTL; 0 disables the cache.
	UserSecretCacheTTL time.Duration
}

// DefaultUserSecretCacheTTL is deliver's per-user secret cache TTL when OUTHOOK_USER_SECRET_CACHE is unset.
const DefaultUserSecretCacheTTL = time.Minute

// LoadEnv reads Env with getenv (os.Getenv in the functions). A missing required variable is an error
// that names it.
func LoadEnv(getenv func(string) string) (Env, error) {
	var e Env
	for _, v := range []struct {
		name string
		dst  *string
	}{
		{EnvConfigFile, &e.ConfigFile},
		{EnvTable, &e.Table},
		{EnvQueueURL, &e.QueueURL},
		{EnvUserSecretPrefix, &e.UserSecretPrefix},
		{EnvNamedSecretPrefix, &e.NamedSecretPrefix},
	} {
		*v.dst = getenv(v.name)
		if *v.dst == "" {
			return Env{}, fmt.Errorf("environment variable %s is required", v.name)
		}
	}
	if root := getenv(envTaskRoot); root != "" && !filepath.IsAbs(e.ConfigFile) {
		e.ConfigFile = filepath.Join(root, e.ConfigFile)
	}
	if key := getenv(EnvCursorKey); key != "" {
		e.CursorKey = []byte(key)
	} else {
		// Without a configured key, derive one from the table name: every function of the deployment
		// agrees on it, so cursors stay tamper-evident (a forged cursor fails its MAC), but anyone who
		// knows the table name can compute it, so cursors are not secret. Set OUTHOOK_CURSOR_KEY for that.
		sum := sha256.Sum256([]byte("outhook list cursor key\x00" + e.Table))
		e.CursorKey = sum[:]
	}
	e.UserSecretCacheTTL = DefaultUserSecretCacheTTL
	if s := getenv(EnvUserSecretCache); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Env{}, fmt.Errorf("environment variable %s=%q: want a duration such as 1m or 0s", EnvUserSecretCache, s)
		}
		e.UserSecretCacheTTL = d
	}
	return e, nil
}
