package uaserver

import (
	"log/slog"
	"os"
)

var debugLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))

func testLogger() *slog.Logger {
	if os.Getenv("UASERVER_DEBUG") != "" {
		return debugLogger
	}
	return nil
}
