package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/relayd/relayd/relay"
)

// pauser is relay's run-time pause of a profile (SPEC §12.3).
type pauser interface {
	PauseProfile(name string, d time.Duration, by string) error
	ResumeProfile(name, by string) error
}

// serversData is the Servers page; Test is the result of the Test connect
// or Send test email just run, shown under its profile.
type serversData struct {
	Profiles   []serverRow
	Test       *testView
	NotifyTo   string
	CanPause   bool
	CanPauseUI bool
}

type serverRow struct {
	relay.ProfileStatus
	Paused      bool
	PausedUntil time.Time
}

// testView is one test run for the page.
type testView struct {
	Profile string
	Send    bool
	OK      bool
	Error   string // the test could not run (no sender, no recipient)
	From    string
	To      string
	Steps   []testStep
	Total   time.Duration
}

type testStep struct {
	Step, Detail, Diagnosis string
	OK                      bool
	MS                      int64
}

// visibleProfiles are the profiles u may see: all for the admin, those
// their team may use for a team user.
func (c *Console) visibleProfiles(u user) []relay.ProfileStatus {
	all := c.srv.Profiles()
	if u.Admin {
		return all
	}
	allowed := c.srv.TeamProfiles(u.Team)
	if allowed == nil {
		return all
	}
	var out []relay.ProfileStatus
	for _, p := range all {
		if slices.Contains(allowed, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

func (c *Console) mayUse(u user, name string) bool {
	return slices.ContainsFunc(c.visibleProfiles(u), func(p relay.ProfileStatus) bool { return p.Name == name })
}

func (c *Console) servers(w http.ResponseWriter, r *http.Request) {
	c.renderServers(w, r, http.StatusOK, nil)
}

func (c *Console) renderServers(w http.ResponseWriter, r *http.Request, status int, test *testView) {
	se := sessionOf(r)
	_, canPause := any(c.srv).(pauser)
	d := serversData{Test: test, NotifyTo: c.srv.NotifyAdmin(), CanPause: canPause && se.Admin}
	for _, p := range c.visibleProfiles(se.user) {
		row := serverRow{ProfileStatus: p}
		row.Paused, row.PausedUntil = c.pauseState(p.Name)
		d.Profiles = append(d.Profiles, row)
	}
	c.render(w, r, status, "servers", page{Title: "Servers", Nav: "servers", Data: d})
}

// serverTest runs Test connect (connection, TLS, AUTH) or, with send=1,
// Send test email (to the typed address, else [notify] admin), and shows
// the steps with their timings and the diagnosis.
func (c *Console) serverTest(w http.ResponseWriter, r *http.Request) {
	se := sessionOf(r)
	name := r.PathValue("name")
	if !c.mayUse(se.user, name) {
		c.fail(w, r, http.StatusNotFound, "There is no server (profile) "+name+" that you may use.")
		return
	}
	send := r.PostFormValue("send") == "1"
	req := relay.TestRequest{Send: send, FromHint: "a sender address", ToHint: "an address in the box next to the button"}
	if to := strings.TrimSpace(r.PostFormValue("to")); to != "" && send {
		req.To = []string{to}
	}
	tv := &testView{Profile: name, Send: send}
	res, err := c.srv.TestProfile(r.Context(), name, req, se.Name)
	if err != nil {
		tv.Error = err.Error()
	} else {
		tv.OK = res.OK
		tv.From = res.Plan.Options.From
		tv.To = strings.Join(res.Plan.Options.To, ", ")
		for _, st := range res.Steps {
			ts := testStep{Step: string(st.Step), OK: st.OK, Detail: st.Detail, MS: st.Duration.Milliseconds()}
			if st.Err != nil {
				ts.Diagnosis = st.Err.Error()
			}
			tv.Total += st.Duration
			tv.Steps = append(tv.Steps, ts)
		}
	}
	c.renderServers(w, r, http.StatusOK, tv)
}

func (c *Console) serverPause(w http.ResponseWriter, r *http.Request)  { c.pauseAction(w, r, true) }
func (c *Console) serverResume(w http.ResponseWriter, r *http.Request) { c.pauseAction(w, r, false) }

// pauseAction pauses (for the chosen time, "" = until resumed) or resumes
// a profile: the admin only.
func (c *Console) pauseAction(w http.ResponseWriter, r *http.Request, pause bool) {
	se := sessionOf(r)
	name := r.PathValue("name")
	p, ok := any(c.srv).(pauser)
	if !se.Admin || !ok {
		c.forbidden(w, r, "Only the admin may pause or resume a server.")
		return
	}
	if !c.mayUse(se.user, name) {
		c.fail(w, r, http.StatusNotFound, "There is no server (profile) "+name+".")
		return
	}
	var err error
	if pause {
		var d time.Duration
		if s := r.PostFormValue("for"); s != "" {
			if d, err = time.ParseDuration(s); err != nil || d <= 0 {
				c.sessions.flash(se.id, fmt.Sprintf("%q is not a duration: use for example 30m or 2h, or leave it empty to pause until Resume.", s), false)
				http.Redirect(w, r, "/servers", http.StatusSeeOther)
				return
			}
		}
		err = p.PauseProfile(name, d, se.Name)
	} else {
		err = p.ResumeProfile(name, se.Name)
	}
	switch {
	case err != nil:
		c.sessions.flash(se.id, err.Error(), false)
	case pause:
		c.sessions.flash(se.id, "Paused "+name+": its messages wait until you press Resume.", true)
	default:
		c.sessions.flash(se.id, "Resumed "+name+": its waiting messages go out now.", true)
	}
	http.Redirect(w, r, "/servers", http.StatusSeeOther)
}
