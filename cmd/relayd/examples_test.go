package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The monitoring examples in examples/ must only use metrics relayd
// exports: the names of docs/metrics.md, plus what relayd adds (panics, upstream_*) and
// the Go and process collectors. Without a YAML library in go.mod the
// alert rules are read by a line scan, the dashboard with encoding/json;
// PromQL is read by a small lexer that finds the metric names.

// specMetrics are the metrics of docs/metrics.md that relayd exports today.
var specMetrics = []string{
	"relayd_messages_accepted_total", "relayd_messages_rejected_total", "relayd_deliveries_total",
	"relayd_delivery_duration_seconds", "relayd_queue_messages", "relayd_queue_oldest_age_seconds",
	"relayd_upstream_connections_total", "relayd_smtp_sessions", "relayd_spool_bytes",
	"relayd_config_reloads_total", "relayd_delivery_ambiguous_total", "relayd_build_info",
}

const (
	alertsFile    = "../../examples/prometheus-alerts.yml"
	dashboardFile = "../../examples/grafana-dashboard.json"
	metricsDoc    = "../../docs/metrics.md"
)

// knownMetric reports whether an example may use name.
func knownMetric(name string) bool {
	if name == "up" || name == "relayd_panics_total" {
		return true
	}
	for _, p := range []string{"relayd_upstream_", "go_", "process_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	for _, suffix := range []string{"", "_bucket", "_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(specMetrics, base) {
			return true
		}
	}
	return false
}

// promKeywords are PromQL words that are neither metrics nor called like
// functions: binary operators, modifiers and aggregations, which may take
// "by (...)" before their parenthesis.
var promKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true, "inf": true, "nan": true,
}

// labelListAfter are the keywords followed by a label list in parentheses.
var labelListAfter = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

// promMetricNames returns the metric names in a PromQL expression: the
// identifiers outside strings, label matchers, ranges and label lists that
// are not keywords and not followed by "(" (function calls).
func promMetricNames(t *testing.T, expr string) []string {
	t.Helper()
	var names []string
	skipPast := func(i int, open, close byte) int {
		depth := 0
		for ; i < len(expr); i++ {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				i = skipString(expr, i)
			case c == open:
				depth++
			case c == close:
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		t.Errorf("unbalanced %c in %q", open, expr)
		return len(expr)
	}
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i) + 1
		case c == '{':
			i = skipPast(i, '{', '}')
		case c == '[':
			i = skipPast(i, '[', ']')
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c >= '0' && c <= '9' || c == '$': // numbers, durations, dashboard variables
			for i++; i < len(expr) && (isIdent(expr[i], false) || expr[i] == '.'); i++ {
			}
		case isIdent(c, true):
			j := i
			for i++; i < len(expr) && isIdent(expr[i], false); i++ {
			}
			word := expr[j:i]
			k := i
			for k < len(expr) && strings.ContainsRune(" \t\n", rune(expr[k])) {
				k++
			}
			switch call := k < len(expr) && expr[k] == '('; {
			case labelListAfter[word] && call:
				i = skipPast(k, '(', ')')
			case promKeywords[word] || call:
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names
}

// skipString returns the index of the quote closing the string at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
		} else if s[i] == q {
			return i
		}
	}
	return len(s)
}

func TestExamplePromQLLexer(t *testing.T) {
	got := promMetricNames(t, `sum by (le, profile) (rate(a_bucket{x="}",y=~"$i"}[$__rate_interval])) / ignoring(x) group_left(y) `+
		`b offset 5m > 1e3 and on (instance) absent(up{job="relayd"}) unless topk(3, c) or count_values("v", d[5m:1m])`)
	if want := []string{"a_bucket", "b", "up", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("metric names %q, want %q", got, want)
	}
}

// checkMetrics fails for unknown metric names in expr and adds the known
// ones to used.
func checkMetrics(t *testing.T, where, expr string, used map[string]bool) {
	t.Helper()
	names := promMetricNames(t, expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric in %q", where, expr)
	}
	for _, n := range names {
		if !knownMetric(n) {
			t.Errorf("%s: %s is not a metric relayd exports (docs/metrics.md): %q", where, n, expr)
		}
		used[n] = true
	}
}

// alertRule is one rule of the alerts file, as the line scan saw it.
type alertRule struct {
	name, expr, summary, description string
	line                             int
}

// scanAlerts reads "- alert:" rules with their expr (one line or a block
// scalar) and annotations.
func scanAlerts(t *testing.T, text string) []alertRule {
	t.Helper()
	var rules []alertRule
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.Contains(l, "\t") {
			t.Errorf("line %d: a tab (YAML indents with spaces)", i+1)
		}
		trimmed := strings.TrimSpace(l)
		key, val, _ := strings.Cut(trimmed, ":")
		val = strings.TrimSpace(val)
		if key == "- alert" {
			rules = append(rules, alertRule{name: val, line: i + 1})
			continue
		}
		if len(rules) == 0 {
			continue
		}
		r := &rules[len(rules)-1]
		switch key {
		case "expr":
			if val == "|" || val == "|-" || val == ">" || val == ">-" {
				indent := len(l) - len(strings.TrimLeft(l, " "))
				var block []string
				for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" ||
					len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent) {
					i++
					block = append(block, lines[i])
				}
				val = strings.Join(block, "\n")
			}
			r.expr = strings.TrimSpace(val)
		case "summary":
			r.summary = val
		case "description":
			r.description = val
		}
	}
	return rules
}

func TestExamplePrometheusAlerts(t *testing.T) {
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !regexp.MustCompile(`(?m)^groups:\n  - name: \S+\n    rules:$`).MatchString(text) {
		t.Errorf("%s: want a rules file: groups: / - name: / rules:", alertsFile)
	}
	rules := scanAlerts(t, text)
	if len(rules) < 10 {
		t.Fatalf("%s: %d alert rules, want at least 10", alertsFile, len(rules))
	}
	used, names, exprs := map[string]bool{}, map[string]bool{}, ""
	for _, r := range rules {
		where := alertsFile + ":" + strconv.Itoa(r.line) + " " + r.name
		if names[r.name] {
			t.Errorf("%s: duplicate alert name", where)
		}
		names[r.name] = true
		if len(r.summary) < 3 || len(r.description) < 3 {
			t.Errorf("%s: want a summary and a description annotation", where)
		}
		checkMetrics(t, where, r.expr, used)
		exprs += r.expr + "\n"
	}
	for _, m := range []string{"up", "relayd_queue_messages", "relayd_queue_oldest_age_seconds", "relayd_deliveries_total",
		"relayd_upstream_connections_total", "relayd_delivery_ambiguous_total", "relayd_config_reloads_total", "relayd_spool_bytes"} {
		if !used[m] {
			t.Errorf("no alert uses %s", m)
		}
	}
	for _, s := range []string{`result="deferred"`, `result="bounced"`, `result!="ok"`, `result="error"`} {
		if !strings.Contains(exprs, s) {
			t.Errorf("no alert expression selects %s", s)
		}
	}
}

// grafanaPanel is the part of a Grafana panel the test reads.
type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

type grafanaDashboard struct {
	Title         string         `json:"title"`
	UID           string         `json:"uid"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func TestExampleGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.SchemaVersion < 36 || d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: schemaVersion %d (want >= 36), title %q, uid %q, %d panels", dashboardFile, d.SchemaVersion, d.Title, d.UID, len(d.Panels))
	}
	used, ids, exprs := map[string]bool{}, map[int]bool{}, ""
	var all []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			all = append(all, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, p := range all {
		where := dashboardFile + " panel " + strconv.Itoa(p.ID) + " " + p.Title
		if ids[p.ID] || p.ID == 0 || p.Title == "" || p.Type == "" {
			t.Errorf("%s: want a unique id, a title and a type", where)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: gridPos %+v outside the 24 columns", where, g)
		}
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" {
				t.Errorf("%s: a target without refId", where)
			}
			checkMetrics(t, where, tg.Expr, used)
			exprs += tg.Expr + "\n"
		}
	}
	checkOverlaps(t, all)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if json.Unmarshal(v.Query, &q.Query) != nil { // a string, or {"query": "..."}
			json.Unmarshal(v.Query, &q)
		}
		// label_values(SELECTOR, LABEL): the last argument is a label.
		if m := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`).FindStringSubmatch(q.Query); m != nil {
			q.Query = m[1]
		}
		checkMetrics(t, dashboardFile+" variable "+v.Name, q.Query, used)
	}
	for _, m := range []string{"relayd_messages_accepted_total", "relayd_messages_rejected_total", "relayd_deliveries_total",
		"relayd_delivery_duration_seconds_bucket", "relayd_queue_messages", "relayd_queue_oldest_age_seconds",
		"relayd_upstream_connections_total", "relayd_smtp_sessions", "relayd_spool_bytes"} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
	for _, s := range []string{"histogram_quantile(0.5,", "histogram_quantile(0.99,", "by (reason)", "by (profile, result)", "by (state)"} {
		if !strings.Contains(exprs, s) {
			t.Errorf("no panel query has %q", s)
		}
	}
}

// checkOverlaps fails when two panels cover the same grid cell.
func checkOverlaps(t *testing.T, ps []grafanaPanel) {
	t.Helper()
	for i, a := range ps {
		for _, b := range ps[i+1:] {
			ga, gb := a.GridPos, b.GridPos
			if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
				t.Errorf("panels %q and %q overlap: %+v %+v", a.Title, b.Title, ga, gb)
			}
		}
	}
}

// TestExampleMetricsDocumented keeps specMetrics and docs/metrics.md's
// table together: every metric the examples may use is documented.
func TestExampleMetricsDocumented(t *testing.T) {
	documented := documentedMetrics(t)
	for _, m := range append(slices.Clone(specMetrics), "relayd_panics_total") {
		if !slices.Contains(documented, m) {
			t.Errorf("%s is not in the table of %s", m, metricsDoc)
		}
	}
}

// documentedMetrics returns the metric names of docs/metrics.md's table.
func documentedMetrics(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(relayd_[a-z_]+)` \\|").FindAllStringSubmatch(string(b), -1) {
		names = append(names, m[1])
	}
	if len(names) == 0 {
		t.Fatalf("%s: no metric table found", metricsDoc)
	}
	return names
}
