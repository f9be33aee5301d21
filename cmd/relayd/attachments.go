package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/spool"
)

// attachmentsGCEvery is how often expired and orphaned attachment files
// are removed.
const attachmentsGCEvery = 10 * time.Minute

// openAttachments opens the attachment store ([attachments] in docs/relayd.toml.5.md) and binds its
// download server; nil, nil when [attachments] base_url is not set. The
// server runs and GC starts on start(ctx); stop closes the server.
func openAttachments(f *config.File, reg prometheus.Registerer, store *spool.Store, log *slog.Logger) (
	*attachments.Store, func(ctx context.Context), func(), error) {
	a := &f.Attachments
	if !a.Enabled() {
		return nil, func(context.Context) {}, func() {}, nil
	}
	log = log.With("component", "attachments")
	st, err := attachments.Open(attachments.Options{Dir: a.Dir, BaseURL: a.BaseURL, Retention: a.Retention.D(),
		Logger: log, Registerer: reg})
	if err != nil {
		return nil, nil, nil, err
	}
	ln, err := net.Listen("tcp", a.Listen)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("the attachment download server cannot listen on %s ([attachments] listen): %w", a.Listen, err)
	}
	hs := &http.Server{Handler: st.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	if tc := a.TLSConfig(); tc != nil {
		hs.TLSConfig = tc.Clone()
	}
	exists := func(id string) bool {
		_, err := store.Get(id)
		return !errors.Is(err, spool.ErrNotFound)
	}
	start := func(ctx context.Context) {
		go st.RunGC(ctx, attachmentsGCEvery, exists)
		go func() {
			var err error
			if hs.TLSConfig != nil {
				err = hs.ServeTLS(ln, "", "")
			} else {
				err = hs.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("attachment download server stopped", "err", err)
			}
		}()
		log.Info("attachment download server listening", "listen", a.Listen, "base_url", a.BaseURL, "dir", a.Dir)
	}
	return st, start, func() { hs.Close() }, nil
}
