package boltstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// boltLogger routes bbolt's own log lines (an error unmapping the file, the
// size limit reached) into the store's slog logger, so that the process log
// stays in one format. bbolt calls neither Fatal nor Panic; they log at
// error and panic, as bbolt's default logger would.
//
// bbolt narrates every open and close at info (with its options struct,
// which it prints badly): that is debug here. While the file is being
// opened its errors are debug too: New returns them, and the caller says
// what they mean (status, audit and check-config open a file a running
// serve holds, time out as expected, and ask that serve instead).
type boltLogger struct {
	log     *slog.Logger
	opening *atomic.Bool
}

var _ bolt.Logger = boltLogger{}

func (l boltLogger) emit(level slog.Level, msg string) {
	if level == slog.LevelInfo || (level > slog.LevelInfo && l.opening != nil && l.opening.Load()) {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "bbolt: "+strings.TrimSpace(msg), "source", "bbolt")
}

func (l boltLogger) Debug(v ...any) { l.emit(slog.LevelDebug, fmt.Sprint(v...)) }
func (l boltLogger) Debugf(format string, v ...any) {
	l.emit(slog.LevelDebug, fmt.Sprintf(format, v...))
}
func (l boltLogger) Info(v ...any)                 { l.emit(slog.LevelInfo, fmt.Sprint(v...)) }
func (l boltLogger) Infof(format string, v ...any) { l.emit(slog.LevelInfo, fmt.Sprintf(format, v...)) }
func (l boltLogger) Warning(v ...any)              { l.emit(slog.LevelWarn, fmt.Sprint(v...)) }
func (l boltLogger) Warningf(format string, v ...any) {
	l.emit(slog.LevelWarn, fmt.Sprintf(format, v...))
}
func (l boltLogger) Error(v ...any) { l.emit(slog.LevelError, fmt.Sprint(v...)) }
func (l boltLogger) Errorf(format string, v ...any) {
	l.emit(slog.LevelError, fmt.Sprintf(format, v...))
}
func (l boltLogger) Fatal(v ...any)                 { l.Panic(v...) }
func (l boltLogger) Fatalf(format string, v ...any) { l.Panicf(format, v...) }
func (l boltLogger) Panic(v ...any) {
	msg := fmt.Sprint(v...)
	l.emit(slog.LevelError, msg)
	panic("bbolt: " + msg)
}
func (l boltLogger) Panicf(format string, v ...any) { l.Panic(fmt.Sprintf(format, v...)) }
