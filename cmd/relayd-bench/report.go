package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// report is everything one relayd-bench run measured.
type report struct {
	Machine  string
	Opts     *options
	Harness  []*harnessRun
	Latency  []latencyResult
	Scale    *scaleResult
	Memory   *memoryResult
	Profile  *profileResult
	Sendmail *sendmailResult
	Attach   *attachResult
}

// goal is a target (docs/performance.md) for relayd/Postfix of one figure: at least
// (Min) or at most (Max) the ratio.
type goal struct {
	Min, Max float64
}

// String implements fmt.Stringer.
func (g goal) String() string {
	switch {
	case g.Min > 0:
		return fmt.Sprintf(">= %gx", g.Min)
	case g.Max > 0:
		return fmt.Sprintf("<= %gx", g.Max)
	}
	return ""
}

// verdict is "ok", "MISS" or "" (no goal or no ratio).
func (g goal) verdict(ratio float64, ok bool) string {
	switch {
	case !ok || (g.Min == 0 && g.Max == 0):
		return ""
	case g.Min > 0 && ratio >= g.Min, g.Max > 0 && ratio <= g.Max:
		return "ok"
	}
	return "MISS"
}

// goals returns the goals (docs/performance.md) of a shape: accept >= 5x with 20
// concurrent clients and 5 KB, >= 3x with one serial client; end to end
// >= 5x (5 KB) and >= 3x with 100 KB; CPU per message <= 1/5 always.
func goals(sh shape) map[string]goal {
	g := map[string]goal{"cpu": {Max: 0.2}}
	switch {
	case sh.C == 1:
		g["accept"] = goal{Min: 3}
	case sh.SizeKB >= 100:
		g["accept"], g["e2e"] = goal{Min: 3}, goal{Min: 3}
	case sh.C >= 20 && sh.SizeKB <= 5:
		g["accept"], g["e2e"] = goal{Min: 5}, goal{Min: 5}
	}
	return g
}

// median of the numeric values of key over runs; ok false if none.
func median(runs []map[string]string, key string) (float64, bool) {
	var v []float64
	for _, r := range runs {
		if f, err := strconv.ParseFloat(r[key], 64); err == nil {
			v = append(v, f)
		}
	}
	return medianOf(v)
}

func medianOf(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2], true
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2, true
}

// sum of the integer values of key over runs, "NA" if none.
func sum(runs []map[string]string, key string) string {
	n, any := 0, false
	for _, r := range runs {
		if i, err := strconv.Atoi(r[key]); err == nil {
			n, any = n+i, true
		}
	}
	if !any {
		return "NA"
	}
	return strconv.Itoa(n)
}

// row is one figure of a shape's table.
type row struct {
	name     string
	key      string // goal key
	r, p     float64
	rok, pok bool
	scale    float64 // divide values by this for display
	format   string
}

func (rw row) cells(g map[string]goal) []string {
	f := func(v float64, ok bool) string {
		if !ok {
			return "NA"
		}
		return fmt.Sprintf(rw.format, v/rw.scale)
	}
	ratio, rok := 0.0, rw.rok && rw.pok && rw.p != 0
	if rok {
		ratio = rw.r / rw.p
	}
	rs := "NA"
	if rok {
		rs = fmt.Sprintf("%.2f", ratio)
	}
	gl := g[rw.key]
	return []string{rw.name, f(rw.r, rw.rok), f(rw.p, rw.pok), rs, gl.String(), gl.verdict(ratio, rok)}
}

// print writes the human-readable report.
func (rep *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n== relayd-bench: relayd vs Postfix, same run ==\nmachine: %s\n", rep.Machine)
	fmt.Fprintf(w, "relayd: profile max_connections=%d max_per_connection=%d log_level=%s; harness repeat=%d warm-up=%d\n",
		rep.Opts.UpstreamConns, rep.Opts.PerConn, rep.Opts.LogLevel, rep.Opts.Repeat, rep.Opts.Warmup)
	for i, sh := range rep.Opts.Shapes {
		var hr *harnessRun
		if i < len(rep.Harness) {
			hr = rep.Harness[i]
		}
		var lat *latencyResult
		if i < len(rep.Latency) {
			lat = &rep.Latency[i]
		}
		rep.printShape(w, sh, hr, lat)
	}
	if rep.Sendmail != nil {
		rep.Sendmail.print(w)
	}
	if rep.Attach != nil {
		rep.Attach.print(w)
	}
	if rep.Scale != nil {
		rep.Scale.print(w)
	}
	if rep.Memory != nil {
		rep.Memory.print(w)
	}
	if rep.Profile != nil {
		rep.Profile.print(w)
	}
}

func (rep *report) printShape(w io.Writer, sh shape, hr *harnessRun, lat *latencyResult) {
	fmt.Fprintf(w, "\n-- shape %s, one connection per message --\n", sh)
	if hr == nil {
		fmt.Fprintln(w, "no harness result")
		return
	}
	fmt.Fprintln(w, hr.Header)
	rr, pr := hr.Runs["relayd"], hr.Runs["postfix"]
	if c, ok := median(hr.Runs["sink"], "accept_msgs_per_s"); ok {
		fmt.Fprintf(w, "ceiling (smtp-source -> smtp-sink, no relay): %.0f msg/s\n", c)
	}
	var rows []row
	add := func(name, key, field string, scale float64, format string) {
		r, rok := median(rr, field)
		p, pok := median(pr, field)
		rows = append(rows, row{name: name, key: key, r: r, p: p, rok: rok, pok: pok, scale: scale, format: format})
	}
	add("accept msg/s", "accept", "accept_msgs_per_s", 1, "%.1f")
	add("e2e msg/s", "e2e", "e2e_msgs_per_s", 1, "%.1f")
	add("CPU us/msg", "cpu", "cpu_us_per_msg", 1, "%.0f")
	add("peak RSS MB", "", "peak_rss_kb", 1024, "%.1f")
	add("peak PSS MB", "", "peak_pss_kb", 1024, "%.1f")
	wr, wrok := medianOf(hr.WritePerMsg["relayd"])
	wp, wpok := medianOf(hr.WritePerMsg["postfix"])
	rows = append(rows, row{name: "disk write KB/msg", r: wr, p: wp, rok: wrok, pok: wpok, scale: 1024, format: "%.1f"})
	if lat != nil {
		lr, lp := lat.Targets["relayd"], lat.Targets["postfix"]
		addLat := func(name string, get func(l loadResult) float64) {
			rv, rok := latValue(lr, get)
			pv, pok := latValue(lp, get)
			rows = append(rows, row{name: name, r: rv, p: pv, rok: rok, pok: pok, scale: 1, format: "%.2f"})
		}
		addLat("accept latency p50 ms", func(l loadResult) float64 { return l.TxnP50 })
		addLat("accept latency p99 ms", func(l loadResult) float64 { return l.TxnP99 })
		addLat("dot->250 p50 ms", func(l loadResult) float64 { return l.DotP50 })
		addLat("dot->250 p99 ms", func(l loadResult) float64 { return l.DotP99 })
		addLat("Go-client accept msg/s", func(l loadResult) float64 { return l.PerSec })
	}
	g := goals(sh)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\trelayd\tpostfix\trelayd/postfix\tgoal\t\t")
	for _, rw := range rows {
		fmt.Fprintln(tw, strings.Join(rw.cells(g), "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "harness lost (accepted-delivered): relayd %s, postfix %s; dup: relayd %s, postfix %s; status: relayd %s, postfix %s\n",
		sum(rr, "lost"), sum(pr, "lost"), sum(rr, "dup"), sum(pr, "dup"), statuses(rr), statuses(pr))
	fmt.Fprintf(w, "host busy %%: relayd %s, postfix %s; other load %% (foreign CPU, >5 is suspect): relayd %s, postfix %s\n",
		fields(rr, "host_busy_pct"), fields(pr, "host_busy_pct"), fields(rr, "other_load_pct"), fields(pr, "other_load_pct"))
	if cr := hr.Runs["relayd-cluster"]; len(cr) > 0 {
		printCluster(w, sh, hr, cr, rr, pr)
	}
	if lat != nil {
		for _, t := range []string{"relayd", "postfix"} {
			if l := lat.Targets[t]; l != nil {
				note := ""
				if t == "relayd" {
					note = "; " + syncNote(l.Sync, l.Load.Accepted)
				}
				fmt.Fprintf(w, "latency phase %s: n=%d accepted=%d failed=%d delivered=%d lost=%d max=%.1fms%s %s\n",
					t, l.Load.Accepted+l.Load.Failed, l.Load.Accepted, l.Load.Failed, l.Delivered, l.Lost, l.Load.TxnMax,
					note, strings.TrimSpace(l.Err+" "+l.Load.FirstErr))
			}
		}
	}
}

func latValue(t *targetLoad, get func(loadResult) float64) (float64, bool) {
	if t == nil || t.Load.Accepted == 0 {
		return 0, false
	}
	return get(t.Load), true
}

func statuses(runs []map[string]string) string { return fields(runs, "status") }

// fields lists key over runs, comma-separated.
func fields(runs []map[string]string, key string) string {
	var v []string
	for _, r := range runs {
		v = append(v, r[key])
	}
	if len(v) == 0 {
		return "NA"
	}
	return strings.Join(v, ",")
}

func (s *scaleResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n-- scale mode: %d messages queued with the upstream down --\n", s.N)
	l := s.Load
	fmt.Fprintf(w, "queueing: accepted %d, failed %d in %.1f s (%.0f msg/s), latency p50 %.2f ms p99 %.2f ms %s\n",
		l.Accepted, l.Failed, l.Seconds, l.PerSec, l.TxnP50, l.TxnP99, l.FirstErr)
	perMsg := 0.0
	if l.Accepted > 0 {
		perMsg = float64(s.DiskUsed) / float64(l.Accepted) / 1024
	}
	fmt.Fprintf(w, "RSS with %d queued (%.0f s after the load): %s, peak during load %.1f MB  goal < 150 MB: %s\n",
		l.Accepted, s.Settled, s.Mem, float64(s.Mem.HWM)/1024, okIf(s.Mem.RSS > 0 && s.Mem.HWM < 150*1024))
	fmt.Fprintf(w, "disk (du state_dir): %.1f MB allocated, %.1f MB apparent (%.1f KB/msg)\n",
		float64(s.DiskUsed)/(1<<20), float64(s.DiskApp)/(1<<20), perMsg)
	fmt.Fprintf(w, "stop (SIGTERM to exit): %.2f s\n", s.Stop)
	fmt.Fprintf(w, "start to 220: %.3f s with %d queued (empty spool: %.3f s)  goal <= 2 s: %s\n",
		s.Ready, l.Accepted, s.ReadyEmpty, okIf(s.Ready > 0 && s.Ready <= 2))
	fmt.Fprintf(w, "RSS 2 s after the restart, idle, %d queued: %s  goal < 150 MB: %s\n", l.Accepted, s.MemRestart,
		okIf(s.MemRestart.RSS > 0 && s.MemRestart.RSS < 150*1024))
	s.Console.print(w, l.Accepted)
	fmt.Fprintf(w, "drain (sink up; retry -all took %.2f s for %d): %.1f s, %.0f msg/s; delivered %d, lost %d, dup %d\n",
		s.RetryAll, s.Retried, s.Drain, s.DrainPerSec, s.Delivered, s.Lost, s.Dup)
	fmt.Fprintf(w, "after the drain: RSS %s, peak since restart %.1f MB; du %.1f MB\n",
		s.MemDrain, float64(s.MemDrain.HWM)/1024, float64(s.DiskAfterDrain)/(1<<20))
	fmt.Fprintf(w, "largest during the drain (sampled every 100 ms, each on its own): RSS %.1f MB, anon %.1f, file %.1f\n",
		float64(s.DrainPeak.RSS)/1024, float64(s.DrainPeak.Anon)/1024, float64(s.DrainPeak.File)/1024)
}

func okIf(b bool) string {
	if b {
		return "ok"
	}
	return "MISS"
}

func (p *profileResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n-- in-process profile of relay.Server (load from a separate process) --\n")
	for _, ph := range p.Phases {
		l := ph.Load
		fmt.Fprintf(w, "\n%s: accepted %d in %.1f s (%.0f msg/s), delivered %d, relay CPU %.0f us/msg, p50 %.2f ms p99 %.2f ms %s\n",
			ph.Name, l.Accepted, l.Seconds, l.PerSec, ph.Delivered, ph.CPUusMsg, l.TxnP50, l.TxnP99, ph.Err)
		fmt.Fprintf(w, "%s\nprofiles: %s\n", syncNote(ph.Sync, l.Accepted), strings.Join(ph.Files, " "))
		fmt.Fprintf(w, "%s\n-- allocations (alloc_space) --\n%s", ph.Top, ph.AllocTop)
	}
}

// ratioCell is a/b with two decimals, "NA" without both.
func ratioCell(a, b float64, ok bool) (string, float64, bool) {
	if !ok || a <= 0 || b <= 0 {
		return "NA", 0, false
	}
	return fmt.Sprintf("%.2f", a/b), a / b, true
}

func (s *sendmailResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n-- sendmail: %d invocations in a loop, one process each, %d KiB (relayd sendmail -> [sendmail] socket; Postfix's sendmail -C -> postdrop) --\n",
		s.N, s.SizeKB)
	r, p := s.Targets["relayd"], s.Targets["postfix"]
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\trelayd\tpostfix\trelayd/postfix\tgoal\t\t")
	rate := func(t *sendmailTarget) (float64, bool) {
		if t == nil || t.Sent == 0 {
			return 0, false
		}
		return t.PerSec, true
	}
	e2e := func(t *sendmailTarget) (float64, bool) {
		if t == nil || t.E2E <= 0 || t.Sent == 0 {
			return 0, false
		}
		return float64(t.Sent) / t.E2E, true
	}
	cpu := func(t *sendmailTarget) (float64, bool) {
		if t == nil || t.Sent == 0 {
			return 0, false
		}
		return t.CPUusMsg, true
	}
	g := map[string]goal{"rate": {Min: 1}}
	for _, f := range []struct {
		name, key, format string
		get               func(*sendmailTarget) (float64, bool)
	}{{"invocations/s (exit 0)", "rate", "%.1f", rate}, {"e2e msg/s", "", "%.1f", e2e}, {"daemon CPU us/msg", "", "%.0f", cpu}} {
		rv, rok := f.get(r)
		pv, pok := f.get(p)
		fmt.Fprintln(tw, strings.Join(row{name: f.name, key: f.key, r: rv, p: pv, rok: rok, pok: pok, scale: 1, format: f.format}.cells(g), "\t")+"\t")
	}
	tw.Flush()
	for _, name := range []string{"relayd", "postfix"} {
		if t := s.Targets[name]; t != nil {
			fmt.Fprintf(w, "%s: ok %d, failed %d in %.2f s; delivered %d, lost %d %s\n",
				name, t.Sent, t.Failed, t.Seconds, t.Delivered, t.Lost, strings.TrimSpace(t.Err+" "+t.FirstErr))
		}
	}
}

func (a *attachResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n-- attachments: shape %s, multipart/mixed with one %d KiB PDF (%d bytes per message), Go-driven load --\n",
		a.Shape, a.Shape.SizeKB, a.MsgBytes)
	fmt.Fprintf(w, "relayd: no attachment rules; relayd-links: attachments_as_url = \"oversize\", max_attachment_size = %q (every message rewritten)\n", attachLimit)
	plain, links, pf := a.Targets["relayd"], a.Targets["relayd-links"], a.Targets["postfix"]
	acc := func(t *attachTarget) (float64, bool) {
		if t == nil || t.Load.Accepted == 0 {
			return 0, false
		}
		return t.Load.PerSec, true
	}
	e2e := func(t *attachTarget) (float64, bool) { return t.e2ePerSec() }
	cpu := func(t *attachTarget) (float64, bool) {
		if t == nil || t.Load.Accepted == 0 {
			return 0, false
		}
		return t.CPUusMsg, true
	}
	p50 := func(t *attachTarget) (float64, bool) {
		if t == nil || t.Load.Accepted == 0 {
			return 0, false
		}
		return t.Load.TxnP50, true
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\trelayd\trelayd-links\tpostfix\trelayd/postfix\trelayd-links/postfix\tgoal\t\tcost links/plain\t")
	g := goal{Min: 3}
	for _, f := range []struct {
		name, format string
		goal         bool
		get          func(*attachTarget) (float64, bool)
	}{{"accept msg/s", "%.1f", true, acc}, {"e2e msg/s", "%.1f", false, e2e},
		{"daemon CPU us/msg", "%.0f", false, cpu}, {"accept latency p50 ms", "%.2f", false, p50}} {
		cell := func(v float64, ok bool) string {
			if !ok {
				return "NA"
			}
			return fmt.Sprintf(f.format, v)
		}
		rv, rok := f.get(plain)
		lv, lok := f.get(links)
		pv, pok := f.get(pf)
		r1, _, _ := ratioCell(rv, pv, rok && pok)
		r2, ratio2, ok2 := ratioCell(lv, pv, lok && pok)
		cost, _, _ := ratioCell(lv, rv, lok && rok)
		gs, verdict := "", ""
		if f.goal {
			gs, verdict = g.String(), g.verdict(ratio2, ok2)
		}
		fmt.Fprintln(tw, strings.Join([]string{f.name, cell(rv, rok), cell(lv, lok), cell(pv, pok), r1, r2, gs, verdict, cost}, "\t")+"\t")
	}
	tw.Flush()
	for _, tg := range attachTargets {
		if t := a.Targets[tg.name]; t != nil {
			linked := ""
			if tg.name != "postfix" {
				linked = fmt.Sprintf(", linked %.0f (warm-up included)", t.Linked)
			}
			fmt.Fprintf(w, "%s: accepted %d, failed %d in %.2f s; delivered %d, lost %d%s %s\n", tg.name, t.Load.Accepted,
				t.Load.Failed, t.Load.Seconds, t.Delivered, t.Lost, linked, strings.TrimSpace(t.Err+" "+t.Load.FirstErr))
		}
	}
}

// printCluster is the -cluster table of a shape: relayd with [cluster]
// redis (a local redis-server, a rate that never binds) against Postfix,
// with the goals of docs/performance.md, and plain relayd of the same run beside it.
func printCluster(w io.Writer, sh shape, hr *harnessRun, cr, rr, pr []map[string]string) {
	fmt.Fprintf(w, "with [cluster] (local redis-server, rate = %q: every message runs the shared window script):\n", clusterRate)
	var rows []row
	var plain []string
	add := func(name, key, field string, scale float64, format string) {
		r, rok := median(cr, field)
		p, pok := median(pr, field)
		rows = append(rows, row{name: name, key: key, r: r, p: p, rok: rok, pok: pok, scale: scale, format: format})
		v, ok := median(rr, field)
		plain = append(plain, naOr(v/scale, ok, format))
	}
	add("accept msg/s", "accept", "accept_msgs_per_s", 1, "%.1f")
	add("e2e msg/s", "e2e", "e2e_msgs_per_s", 1, "%.1f")
	add("CPU us/msg (relayd)", "cpu", "cpu_us_per_msg", 1, "%.0f")
	add("peak RSS MB", "", "peak_rss_kb", 1024, "%.1f")
	add("peak PSS MB", "", "peak_pss_kb", 1024, "%.1f")
	wc, wcok := medianOf(hr.WritePerMsg["relayd-cluster"])
	wp, wpok := medianOf(hr.WritePerMsg["postfix"])
	rows = append(rows, row{name: "disk write KB/msg", r: wc, p: wp, rok: wcok, pok: wpok, scale: 1024, format: "%.1f"})
	wr, wrok := medianOf(hr.WritePerMsg["relayd"])
	plain = append(plain, naOr(wr/1024, wrok, "%.1f"))
	g := goals(sh)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\trelayd+cluster\tpostfix\tcluster/postfix\tgoal\t\trelayd (no cluster)\t")
	for i, rw := range rows {
		fmt.Fprintln(tw, strings.Join(rw.cells(g), "\t")+"\t"+plain[i]+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "redis-server CPU us/msg (not in relayd's figure): %s; script runs per measured run: %s (accepted: %s)\n",
		fields(cr, "redis_cpu_us_per_msg"), fields(cr, "redis_script_calls"), fields(cr, "accepted"))
	fmt.Fprintf(w, "relayd+cluster lost %s, dup %s, status %s; other load %%: %s\n",
		sum(cr, "lost"), sum(cr, "dup"), statuses(cr), fields(cr, "other_load_pct"))
}

// naOr formats v, or "NA" when not ok.
func naOr(v float64, ok bool, format string) string {
	if !ok {
		return "NA"
	}
	return fmt.Sprintf(format, v)
}

// print writes the console lines of the scale mode.
func (c *consoleResult) print(w io.Writer, queued int) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "console (admin login %.1f ms), %d queued, before the drain:\n", c.Login, queued)
	for _, q := range c.Requests {
		fmt.Fprintf(w, "  GET %s: %d, %d rows, %.1f ms, relayd RSS after %.1f MB\n", q.Path, q.Status, q.Rows, q.Ms, float64(q.RSS)/1024)
	}
	if first := c.firstPageMs(); len(first) > 0 {
		fmt.Fprintf(w, "  Outbox first page: max %.1f ms over %d  goal < 300 ms: %s; max RSS after a request %.1f MB  goal < 150 MB: %s\n",
			slices.Max(first), len(first), okIf(slices.Max(first) < 300 && c.allOK()), float64(c.MaxRSS)/1024,
			okIf(c.MaxRSS > 0 && c.MaxRSS < 150*1024))
	}
	if c.Err != "" {
		fmt.Fprintf(w, "  console error: %s\n", c.Err)
	}
}

// allOK is whether every request was answered 200.
func (c *consoleResult) allOK() bool {
	for _, q := range c.Requests {
		if q.Status != 200 {
			return false
		}
	}
	return true
}
