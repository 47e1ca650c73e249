package awsapp

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"time"

	"github.com/outhook/outhook/shared/aws/lambdaenv"
)

// Env is the functions' configuration, read from the environment variables of package lambdaenv.
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
	for _, name := range lambdaenv.Required {
		if getenv(name) == "" {
			return Env{}, fmt.Errorf("environment variable %s is required", name)
		}
	}
	e := Env{
		ConfigFile:        getenv(lambdaenv.ConfigFile),
		Table:             getenv(lambdaenv.Table),
		QueueURL:          getenv(lambdaenv.QueueURL),
		UserSecretPrefix:  getenv(lambdaenv.UserSecretPrefix),
		NamedSecretPrefix: getenv(lambdaenv.NamedSecretPrefix),
	}
	if root := getenv(lambdaenv.TaskRoot); root != "" && !filepath.IsAbs(e.ConfigFile) {
		e.ConfigFile = filepath.Join(root, e.ConfigFile)
	}
	if key := getenv(lambdaenv.CursorKey); key != "" {
		e.CursorKey = []byte(key)
	} else {
		// Without a configured key, derive one from the table name: every function of the deployment
		// agrees on it, so cursors stay tamper-evident (a forged cursor fails its MAC), but anyone who
		// knows the table name can compute it, so cursors are not secret. Set OUTHOOK_CURSOR_KEY for that.
		sum := sha256.Sum256([]byte("outhook list cursor key\x00" + e.Table))
		e.CursorKey = sum[:]
	}
	e.UserSecretCacheTTL = DefaultUserSecretCacheTTL
	if s := getenv(lambdaenv.UserSecretCache); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Env{}, fmt.Errorf("environment variable %s=%q: want a duration such as 1m or 0s", lambdaenv.UserSecretCache, s)
		}
		e.UserSecretCacheTTL = d
	}
	return e, nil
}
