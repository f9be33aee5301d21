package console

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/relayd/relayd/relay"
)

// serversData is the Servers page; Test is the result of the Test connect
// or Send test email just run, shown under its profile.
type serversData struct {
	Profiles []relay.ConsoleProfile
	Test     *testView
	NotifyTo string
	CanPause bool // the admin pauses and resumes
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

// TotalMS is the test's duration in whole milliseconds.
func (tv *testView) TotalMS() int64 { return tv.Total.Milliseconds() }

type testStep struct {
	Step, Detail, Diagnosis string
	OK                      bool
	MS                      int64
}

// visibleProfiles are the profiles u may see: all for the admin, those
// their team may use for a team user.
func (c *Console) visibleProfiles(u user) []relay.ConsoleProfile {
	all := c.srv.ConsoleProfiles()
	if u.Admin {
		return all
	}
	allowed := c.srv.TeamProfiles(u.Team)
	if allowed == nil {
		return all
	}
	var out []relay.ConsoleProfile
	for _, p := range all {
		if slices.Contains(allowed, p.Name) {
			out = append(out, p)
		}
	}
	return out
}

func (c *Console) mayUse(u user, name string) bool {
	return slices.ContainsFunc(c.visibleProfiles(u), func(p relay.ConsoleProfile) bool { return p.Name == name })
}

func (c *Console) servers(w http.ResponseWriter, r *http.Request) {
	c.renderServers(w, r, http.StatusOK, nil)
}

func (c *Console) renderServers(w http.ResponseWriter, r *http.Request, status int, test *testView) {
	se := sessionOf(r)
	d := serversData{Test: test, NotifyTo: c.srv.NotifyAdmin(), CanPause: se.Admin, Profiles: c.visibleProfiles(se.user)}
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
		if res.Plan.Options.Envelope {
			tv.From = res.Plan.Options.From
			tv.To = strings.Join(res.Plan.Options.To, ", ")
		}
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
	if !se.Admin {
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
		err = c.srv.PauseProfile(name, d, se.Name)
	} else {
		err = c.srv.ResumeProfile(name, se.Name)
	}
	switch {
	case err != nil:
		c.log.Warn("console: pause or resume failed", "profile", name, "user", se.Name, "err", err)
		c.sessions.flash(se.id, "Could not change "+name+": "+err.Error()+".", false)
	case pause:
		c.sessions.flash(se.id, "Paused "+name+": its messages wait until you press Resume.", true)
	default:
		c.sessions.flash(se.id, "Resumed "+name+": its waiting messages go out now.", true)
	}
	http.Redirect(w, r, "/servers", http.StatusSeeOther)
}
