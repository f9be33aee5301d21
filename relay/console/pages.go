package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayd/relayd/relay"
	"github.com/relayd/relayd/spool"
)

// states are the Outbox's filter choices: the states a message waits in,
// then the final ones (docs/admin-api.md, "A queue item").
var states = []string{"delayed", "ready", "sending", "deferred", "held", "sent", "bounced", "cancelled"}

// overviewData is what the Overview shows first: how many messages are in
// each state, what happened lately, what is stuck and what is broken.
type overviewData struct {
	Counts       []stateCount
	Hour, Day    relay.Outcomes
	OldestAge    time.Duration
	OldestKnown  bool
	Problems     []relay.ConsoleProfile // failing or paused profiles
	SpoolErr     string
	SpoolBytes   int64
	Corrupt      int
	TeamScanNote string
}

type stateCount struct {
	State string
	N     int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	st := c.srv.Spool()
	d := overviewData{Hour: c.srv.Recent(time.Hour), Day: c.srv.Recent(24 * time.Hour)}
	if se.Admin {
		counts := st.Counts()
		for _, s := range states {
			d.Counts = append(d.Counts, stateCount{s, counts[spool.State(s)]})
		}
		d.OldestAge = st.OldestAge(c.srv.Now())
		d.OldestKnown = d.OldestAge > 0
		if err := st.Err(); err != nil {
			d.SpoolErr = err.Error()
		}
		d.SpoolBytes, d.Corrupt = st.Bytes(), st.Corrupt()
	} else {
		d.Counts, d.OldestAge = c.teamCounts(se.Team)
		d.OldestKnown = d.OldestAge > 0
	}
	for _, p := range c.visibleProfiles(se.user) {
		if !p.FailingSince.IsZero() || p.Paused {
			d.Problems = append(d.Problems, p)
		}
	}
	c.render(w, r, http.StatusOK, "overview", page{Title: "Overview", Nav: "overview", Data: d})
}

// teamCounts counts a team's messages per state from the newest envelopes
// (at most teamScan of them).
func (c *Console) teamCounts(team string) ([]stateCount, time.Duration) {
	const teamScan = 20000
	n := map[string]int{}
	var oldest time.Time
	seen := 0
	c.srv.Spool().ListNewest("", true, func(m *spool.Message) bool {
		seen++
		if m.Team == team {
			mask := map[spool.State]bool{}
			active := false
			for _, r := range m.Recipients {
				mask[r.State] = true
				active = active || !r.State.Final()
			}
			for s := range mask {
				n[string(s)]++
			}
			if active {
				oldest = m.Created
			}
		}
		return seen < teamScan
	})
	var out []stateCount
	for _, s := range states {
		out = append(out, stateCount{s, n[s]})
	}
	if oldest.IsZero() {
		return out, 0
	}
	return out, c.srv.Now().Sub(oldest)
}

// outboxData is one page of the Outbox.
type outboxData struct {
	State, Search string
	Profile       string // only this profile's messages ("" = all)
	States        []string
	Rows          []outboxRow
	Next          string
	First         bool // this is the first page
	Stopped       bool
	Now           time.Time
}

// outboxRow is one message in the Outbox.
type outboxRow struct {
	relay.QueueItem
	Profiles    string
	Recipients  string
	Attempts    int
	NextAttempt *time.Time
	LastError   string
	Delayed     bool // shows the time left and Retract
	Until       time.Time

	// The actions the message page offers: those the spool would not
	// refuse for the recipients' states (spool/admin.go).
	CanHold, CanRelease, CanRetry, CanDelete bool
	Sending                                  bool // a recipient is being delivered right now
}

func rowOf(it relay.QueueItem) outboxRow {
	row := outboxRow{QueueItem: it}
	row.From = bareAddress(it.From)
	var profs, rcpts []string
	for _, rc := range it.Recipients {
		if !slices.Contains(profs, rc.Profile) {
			profs = append(profs, rc.Profile)
		}
		rcpts = append(rcpts, rc.Address)
		row.Attempts = max(row.Attempts, rc.Attempts)
		if rc.NextAttempt != nil && (row.NextAttempt == nil || rc.NextAttempt.Before(*row.NextAttempt)) {
			row.NextAttempt = rc.NextAttempt
		}
		if rc.LastError != "" {
			row.LastError = rc.LastError
		}
		row.allow(spool.State(rc.State))
		if rc.State == string(spool.StateDelayed) && rc.NextAttempt != nil {
			row.Delayed = true
			if row.Until.IsZero() || rc.NextAttempt.Before(row.Until) {
				row.Until = *rc.NextAttempt
			}
		}
	}
	row.Profiles, row.Recipients = strings.Join(profs, ", "), strings.Join(rcpts, ", ")
	if row.Sending { // hold and delete are refused while an attempt is in flight
		row.CanHold, row.CanDelete = false, false
	}
	return row
}

// allow notes what a recipient in state st lets the message page offer.
func (row *outboxRow) allow(st spool.State) {
	switch st {
	case spool.StateDelayed, spool.StateReady, spool.StateDeferred:
		row.CanHold, row.CanRetry, row.CanDelete = true, true, true
	case spool.StateHeld:
		row.CanRelease, row.CanDelete = true, true
	case spool.StateSending:
		row.Sending = true
	}
}

func (c *Console) outbox(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	q := r.URL.Query()
	state, search := q.Get("state"), q.Get("q")
	if state != "" && state != "active" && !slices.Contains(states, state) {
		c.fail(w, r, http.StatusBadRequest, "There is no state "+strconv.Quote(state)+": pick one from the list.")
		return
	}
	pg, err := c.srv.QueueNewest(relay.QueueQuery{State: state, Search: search, Before: q.Get("before"),
		Profile: q.Get("profile"), Team: se.Team, TeamOnly: !se.Admin})
	if err != nil {
		c.log.Error("console: listing the queue failed", "err", err)
		c.fail(w, r, http.StatusInternalServerError, "relayd could not read the queue: the spool failed; relayd's log has the cause.")
		return
	}
	d := outboxData{State: state, Search: search, Profile: q.Get("profile"), States: states, Next: pg.Next, First: q.Get("before") == "",
		Stopped: pg.Stopped, Now: c.srv.Now()}
	for _, it := range pg.Items {
		d.Rows = append(d.Rows, rowOf(it))
	}
	c.render(w, r, http.StatusOK, "outbox", page{Title: "Outbox", Nav: "outbox", Data: d})
}

// outboxAction applies the button pressed (action) to the selected
// messages (id, repeated), then goes back to the page it came from.
func (c *Console) outboxAction(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	action := r.PostFormValue("action")
	ids := r.PostForm["id"]
	allowed := map[string]bool{"hold": true, "release": true, "delete": true, "retract": true, "retry": se.Admin}
	if !allowed[action] {
		c.forbidden(w, r, "You may not do "+strconv.Quote(action)+" here: team users may retract, hold and release their team's messages.")
		return
	}
	verb := map[string]string{"hold": "Held", "release": "Released", "retry": "Retrying", "delete": "Deleted", "retract": "Retracted"}[action]
	if action == "retract" {
		action = "delete" // Retract is Delete during the send delay
	}
	var done, failed []string
	for _, id := range ids {
		if !c.maySeeID(se.user, id) {
			failed = append(failed, "no message with ID "+id)
			continue
		}
		if _, err := c.srv.QueueAction(action, id, se.Name); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		done = append(done, id)
	}
	switch {
	case len(ids) == 0:
		c.sessions.flash(se.id, "Select one or more messages first (the boxes at the start of each row).", false)
	case len(failed) > 0:
		msg := strings.Join(failed, "; ") + "."
		if len(done) > 0 {
			msg = verb + " " + strconv.Itoa(len(done)) + "; not changed: " + msg
		}
		c.sessions.flash(se.id, msg, false)
	case len(done) == 1 && verb == "Retracted":
		c.sessions.flash(se.id, "Retracted message "+done[0]+": it will not be sent.", true)
	case len(done) == 1:
		c.sessions.flash(se.id, verb+" message "+done[0]+".", true)
	default:
		c.sessions.flash(se.id, verb+" "+strconv.Itoa(len(done))+" messages.", true)
	}
	back := "/outbox"
	if ret := r.PostFormValue("return"); strings.HasPrefix(ret, "/outbox") && !strings.HasPrefix(ret, "//") {
		back = ret
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// maySee reports whether u may see message id: the admin all, a team user
// their team's (another team's message is "not found", never "forbidden").
func (c *Console) maySee(u user, m *spool.Message) bool { return u.Admin || m.Team == u.Team }

func (c *Console) maySeeID(u user, id string) bool {
	m, err := c.srv.Spool().Get(id)
	return err == nil && c.maySee(u, m)
}

// messageData is the message page.
type messageData struct {
	Item    relay.QueueItem
	Row     outboxRow
	Headers []header
	Body    string
	Trunc   bool
	NoBody  string // why no body is shown
	Return  string
}

type header struct{ Name, Value string }

const maxBodyShown = 256 << 10

func (c *Console) message(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	id := r.PathValue("id")
	m, err := c.srv.Spool().Get(id)
	if err != nil || !c.maySee(se.user, m) {
		if err != nil && !errors.Is(err, spool.ErrNotFound) {
			c.log.Error("console: reading a message failed", "msg_id", id, "err", err)
		}
		c.fail(w, r, http.StatusNotFound, "There is no message with ID "+id+" that you may see: it may have expired from the journal. Go back to the Outbox.")
		return
	}
	it := c.srv.Item(m)
	it.From = bareAddress(it.From)
	d := messageData{Item: it, Row: rowOf(it), Return: "/outbox/" + url.PathEscape(id)}
	body, err := c.srv.Spool().Body(id)
	switch {
	case err != nil:
		d.NoBody = "The body is no longer stored: every recipient is done with it."
	default:
		hdr, text := splitMessage(body)
		d.Headers = hdr
		if se.Admin {
			if len(text) > maxBodyShown {
				text, d.Trunc = text[:maxBodyShown], true
			}
			d.Body = strings.ToValidUTF8(string(text), "\uFFFD")
		} else {
			d.NoBody = "Message bodies are shown to the admin only."
		}
	}
	c.render(w, r, http.StatusOK, "message", page{Title: "Message " + id, Nav: "outbox", Data: d})
}

// splitMessage returns the header fields (unfolded) and the body text.
func splitMessage(b []byte) ([]header, []byte) {
	s := string(b)
	end := strings.Index(s, "\r\n\r\n")
	sep := 4
	if end < 0 {
		if end = strings.Index(s, "\n\n"); end < 0 {
			end, sep = len(s), 0
		} else {
			sep = 2
		}
	}
	var out []header
	for _, line := range strings.Split(strings.ReplaceAll(s[:end], "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1].Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		out = append(out, header{name, strings.TrimSpace(value)})
	}
	return out, b[min(end+sep, len(b)):]
}

// bareAddress shows "<a@example.com>" (a From without a display name, as
// the spool keeps it) as a@example.com.
func bareAddress(s string) string {
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") && strings.Count(s, "<") == 1 {
		return s[1 : len(s)-1]
	}
	return s
}
