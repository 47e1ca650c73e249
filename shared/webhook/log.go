package webhook

import "log/slog"

const levelDebug = slog.LevelDebug

// Log attributes used across the service; values are ids and names, never secrets.
func attrEvent(id string) slog.Attr { return slog.String("event", id) }
func attrSet(name string) slog.Attr { return slog.String("set", name) }
