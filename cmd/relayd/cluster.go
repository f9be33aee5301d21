package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/relayd/relayd/cluster"
	"github.com/relayd/relayd/cmd/relayd/config"
	"github.com/relayd/relayd/relay"
)

// newCluster builds the [cluster] of f, nil without one. It
// contacts no one: startCluster does.
func newCluster(f *config.File, reg prometheus.Registerer, log *slog.Logger) (*cluster.Cluster, error) {
	c := &f.Cluster
	if c.Redis == "" {
		return nil, nil
	}
	return cluster.New(cluster.Options{URL: c.Redis, Password: c.Password(), Host: f.Server.Hostname,
		Logger: log, Registerer: reg})
}

// clusterHandlers connect the cluster's events to the relay: an outage is
// alerted once, and pauses set on other relayd are applied here.
func clusterHandlers(srv *relay.Server, cl *cluster.Cluster, log *slog.Logger) cluster.Handlers {
	return cluster.Handlers{
		Down: func(err error) {
			srv.AlertAdmin("the cluster's Redis is unreachable",
				fmt.Sprintf("relayd cannot reach the Redis of [cluster] (%s):\r\n\r\n%v\r\n\r\n"+
					"Mail is still delivered. Until Redis is back, each relayd counts its profiles' rate "+
					"windows alone (together they may exceed a shared account's limit) and pauses are not "+
					"shared. relayd reconnects by itself; relayd_cluster_up shows the state.\r\n", cl.Addr(), err))
		},
		Pause: func(p cluster.Pause) {
			by := p.By + " on " + p.Host
			var err error
			if p.Resumed {
				err = srv.ApplySharedResume(p.Profile, by)
			} else {
				err = srv.ApplySharedPause(p.Profile, p.Until, by)
			}
			switch {
			case errors.Is(err, relay.ErrNoProfile):
				log.Debug("a pause of another relayd names a profile this one does not have", "profile", p.Profile)
			case err != nil:
				log.Error("could not apply a pause of another relayd", "profile", p.Profile, "err", err)
			}
		},
	}
}

// clusterRates is the cluster's rate windows as relay's RateLimiter.
type clusterRates struct{ c *cluster.Cluster }

var _ relay.RateLimiter = clusterRates{}

func windows(rs relay.Rates) []cluster.Window {
	out := make([]cluster.Window, len(rs))
	for i, r := range rs {
		out[i] = cluster.Window{N: r.N, Per: r.Per}
	}
	return out
}

// Allow implements relay.RateLimiter.
func (cr clusterRates) Allow(profile string, rs relay.Rates, now time.Time) (bool, time.Time) {
	return cr.c.Allow(profile, windows(rs), now)
}

// WaitUntil implements relay.RateLimiter.
func (cr clusterRates) WaitUntil(profile string, rs relay.Rates, now time.Time) time.Time {
	return cr.c.WaitUntil(profile, windows(rs), now)
}
