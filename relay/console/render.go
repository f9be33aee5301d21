package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // "overview", "outbox", "servers": the current tab
	User    *user  // nil on the login page
	CSRF    string
	Flash   string
	FlashOK bool
	Error   string
	Data    any
}

var funcs = template.FuncMap{
	// ts renders a time for a person: UTC on the server, the viewer's
	// local time once console.js has run.
	"ts": func(t time.Time) template.HTML {
		if t.IsZero() {
			return "—"
		}
		u := t.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
			u.Format(time.RFC3339), template.HTMLEscapeString(u.Format("2006-01-02 15:04:05 UTC"))))
	},
	"tsp": func(t *time.Time) template.HTML {
		if t == nil || t.IsZero() {
			return "—"
		}
		u := t.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
			u.Format(time.RFC3339), template.HTMLEscapeString(u.Format("2006-01-02 15:04:05 UTC"))))
	},
	"tss": func(t time.Time) template.HTML { return shortTime(t) },
	"tssp": func(t *time.Time) template.HTML {
		if t == nil {
			return "—"
		}
		return shortTime(*t)
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"dur":     humanDuration,
	"bytes":   humanBytes,
	"join":    strings.Join,
}

func parseTemplates() map[string]*template.Template {
	names := []string{"login", "overview", "outbox", "message", "servers", "error"}
	out := map[string]*template.Template{}
	for _, n := range names {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html"))
	}
	return out
}

// render writes the page name with p; the flash message of the session,
// if any, is shown once.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if se, ok := r.Context().Value(ctxKey{}).(reqSession); ok {
		p.User = &se.user
		p.CSRF = se.CSRF
		if p.Flash == "" {
			p.Flash, p.FlashOK = c.sessions.takeFlash(se.id)
		}
	}
	var buf bytes.Buffer
	if err := c.tmpl[name].Execute(&buf, p); err != nil {
		c.log.Error("console: rendering a page failed", "page", name, "err", err)
		http.Error(w, "relayd could not render this page; its log has the cause", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page with a sentence saying what to do.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	title := map[int]string{http.StatusForbidden: "Not allowed", http.StatusNotFound: "Not found"}[status]
	if title == "" {
		title = "Something went wrong"
	}
	c.render(w, r, status, "error", page{Title: title, Error: msg})
}

func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	c.fail(w, r, http.StatusForbidden, msg)
}

// shortTime is a table cell's time: month, day, hours and minutes (the
// full time in its title); console.js shows it in local time.
func shortTime(t time.Time) template.HTML {
	if t.IsZero() {
		return "—"
	}
	u := t.UTC()
	return template.HTML(fmt.Sprintf(`<time class="short" datetime="%s" title="%s">%s</time>`,
		u.Format(time.RFC3339), u.Format("2006-01-02 15:04:05 UTC"), u.Format("Jan 2 15:04")))
}

func humanDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

func humanBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
}
