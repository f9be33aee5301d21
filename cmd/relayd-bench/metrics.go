package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// syncStats is relayd_spool_sync_duration_seconds (docs/metrics.md): how many group
// fsyncs the spool ran and their total duration. Per accepted message it
// tells whether commits share their fsync.
type syncStats struct {
	Count, Sum float64
}

// sub returns s - b.
func (s syncStats) sub(b syncStats) syncStats { return syncStats{s.Count - b.Count, s.Sum - b.Sum} }

// parseSyncStats reads the histogram's _count and _sum from the Prometheus
// text format.
func parseSyncStats(r io.Reader) syncStats {
	var s syncStats
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch name {
		case "relayd_spool_sync_duration_seconds_count":
			s.Count = v
		case "relayd_spool_sync_duration_seconds_sum":
			s.Sum = v
		}
	}
	return s
}

// scrapeSync reads syncStats from a running relayd's admin /metrics.
func scrapeSync(ctx context.Context, admin string) (syncStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return syncStats{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return syncStats{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return syncStats{}, fmt.Errorf("metrics: %s", resp.Status)
	}
	return parseSyncStats(resp.Body), nil
}

// gatherSync reads syncStats from an in-process registry.
func gatherSync(reg *prometheus.Registry) syncStats {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return parseSyncStats(rec.Body)
}

// syncNote describes fsyncs per accepted message.
func syncNote(s syncStats, accepted int) string {
	if accepted <= 0 || s.Count <= 0 {
		return "fsyncs: NA"
	}
	return fmt.Sprintf("group fsyncs: %.0f (%.2f per accepted message, mean %.2f ms)",
		s.Count, s.Count/float64(accepted), 1000*s.Sum/s.Count)
}
