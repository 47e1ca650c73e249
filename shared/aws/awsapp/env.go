package awsapp

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/outhook/outhook/shared/aws/cwmetric"
	"github.com/outhook/outhook/shared/aws/lambdaenv"
)

// Env is the functions' configuration, read from the environment variables of package lambdaenv.
type Env struct {
	ConfigFile        string
	Table             string
	QueueURL          string
	UserSecretPrefix  string
	NamedSecretPrefix string
	// CursorKey authenticates list cursors: OUTHOOK_CURSOR_KEY, else (in New) the value of the secret
	// CursorKeySecret names, else a key derived from the table name.
	CursorKey []byte
	// CursorKeySecret is the ARN of the Secrets Manager secret that holds the cursor key
	// (OUTHOOK_CURSOR_KEY_SECRET): the CDK construct generates one at deploy time for the query function,
	// the only one that makes and reads cursors. New reads it once per execution environment.
	CursorKeySecret string
	// UserSecretCacheTTL is how long deliver serves a user's secret from memory. Default
	// DefaultUserSecretCacheTTL; 0 disables the cache.
	UserSecretCacheTTL time.Duration
	// MaxReceiveCount is the delivery queue's maxReceiveCount: deliver ends the delivery of a message that
	// fails on that receive, before SQS moves it to the dead-letter queue. 0 (unset): it never does.
	MaxReceiveCount int
	// DeadLetterARN is the ARN of the delivery queue's dead-letter queue (OUTHOOK_DEAD_LETTER_QUEUE_ARN): deliver
	// ends the delivery of a message received from it without attempting it. Empty: it never does.
	DeadLetterARN string
	// MetricsNamespace is the CloudWatch namespace of the EMF metrics. Default cwmetric.Namespace.
	MetricsNamespace string
	// LogLevel is the lowest level the function logs: the function's application log level, which Lambda
	// gives in AWS_LAMBDA_LOG_LEVEL (the construct sets INFO; DEBUG adds a line per successful attempt).
	// Default INFO.
	LogLevel slog.Level
}

// DefaultUserSecretCacheTTL is deliver's per-user secret cache TTL when OUTHOOK_USER_SECRET_CACHE is unset:
// a rotation reaches every delivery within it (TestLambda_EndToEnd). A few seconds keep the reads of a busy
// user to one every 5 s per deliver instance (2 calls, $0.00001), as a minute did for all practical loads.
const DefaultUserSecretCacheTTL = 5 * time.Second

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
	switch {
	case getenv(lambdaenv.CursorKey) != "":
		e.CursorKey = []byte(getenv(lambdaenv.CursorKey))
	case getenv(lambdaenv.CursorKeySecret) != "":
		e.CursorKeySecret = getenv(lambdaenv.CursorKeySecret)
	default:
		// Without a configured key (a function that makes no cursors, or a deployment without the CDK
		// construct), derive one from the table name: every function of the deployment agrees on it, so
		// cursors stay tamper-evident against a client that does not know it, but anyone who knows the table
		// name can compute it. The construct gives the query function a generated secret instead.
		sum := sha256.Sum256([]byte("outhook list cursor key\x00" + e.Table))
		e.CursorKey = sum[:]
	}
	e.MetricsNamespace = cmp.Or(getenv(lambdaenv.MetricsNamespace), cwmetric.Namespace)
	e.UserSecretCacheTTL = DefaultUserSecretCacheTTL
	if s := getenv(lambdaenv.UserSecretCache); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return Env{}, fmt.Errorf("environment variable %s=%q: want a duration such as 1m or 0s", lambdaenv.UserSecretCache, s)
		}
		e.UserSecretCacheTTL = d
	}
	if s := getenv(lambdaenv.MaxReceiveCount); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return Env{}, fmt.Errorf("environment variable %s=%q: want a positive integer", lambdaenv.MaxReceiveCount, s)
		}
		e.MaxReceiveCount = n
	}
	e.DeadLetterARN = getenv(lambdaenv.DeadLetterARN)
	if s := getenv(lambdaenv.LogLevel); s != "" {
		level, ok := lambdaLogLevels[strings.ToUpper(s)]
		if !ok {
			return Env{}, fmt.Errorf("environment variable %s=%q: want TRACE, DEBUG, INFO, WARN, ERROR or FATAL", lambdaenv.LogLevel, s)
		}
		e.LogLevel = level
	}
	return e, nil
}

// lambdaLogLevels maps Lambda's application log levels to slog's (TRACE and FATAL have no slog name).
var lambdaLogLevels = map[string]slog.Level{
	"TRACE": slog.LevelDebug - 4,
	"DEBUG": slog.LevelDebug,
	"INFO":  slog.LevelInfo,
	"WARN":  slog.LevelWarn,
	"ERROR": slog.LevelError,
	"FATAL": slog.LevelError + 4,
}
