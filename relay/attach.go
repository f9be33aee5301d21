package relay

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/relay/attachments"
	"github.com/relayd/relayd/spool"
	"github.com/relayd/relayd/upstream"
)

// Attachment modes of a profile's attachments_as_url (docs/relayd.toml.5.md, [[profile]]).
const (
	AttachNever    = "never"
	AttachOversize = "oversize"
	AttachAlways   = "always"
)

// attachRules reports whether profile p has an attachment rule to apply.
func attachRules(p *Profile) bool {
	return p != nil && (p.MaxAttachmentSize > 0 || p.AttachmentsAsURL == AttachAlways)
}

// linksFor returns whether profile p replaces attachment a (size octets)
// of a message that is not sealed by a link.
func linksFor(p *Profile, size int64) bool {
	switch p.AttachmentsAsURL {
	case AttachAlways:
		return true
	case AttachOversize:
		return p.MaxAttachmentSize > 0 && size > p.MaxAttachmentSize
	}
	return false
}

// checkAttachments applies the attachment rules at the end of DATA, before the spool
// commit: a message whose attachment is over a recipient profile's limit
// is refused (never, or a signed or encrypted message), and the
// attachments some profile replaces by links are staged in the store. It
// returns the error to answer, or the staged files, nil when none: the
// caller waits for them to be durable while the spool commits (accept).
func (s *session) checkAttachments(m *spool.Message, body []byte) (*attachments.Staged, error) {
	gen := s.gen
	var profiles []*Profile
	seen := map[string]bool{}
	for _, r := range m.Recipients {
		if p := gen.cfg.Profiles[r.Profile]; !seen[r.Profile] && attachRules(p) {
			seen[r.Profile] = true
			profiles = append(profiles, p)
		}
	}
	if len(profiles) == 0 {
		return nil, nil
	}
	t := attachments.Walk(body)
	atts := t.Attachments()
	sizes := make([]int64, len(atts))
	for i, a := range atts {
		sizes[i] = a.Size(body)
	}
	want := map[int]bool{}
	linked := map[string]int{}
	for _, p := range profiles {
		for i, a := range atts {
			over := p.MaxAttachmentSize > 0 && sizes[i] > p.MaxAttachmentSize
			if over && (p.AttachmentsAsURL == AttachNever || p.AttachmentsAsURL == "" || t.Sealed) {
				return nil, s.fail(attachmentTooBig(a.FileName, sizes[i], p, t.Sealed), "size")
			}
			if !t.Sealed && linksFor(p, sizes[i]) {
				want[a.Index] = true
				linked[p.Upstream.Name]++
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	store := s.srv.opts.Attachments
	if store == nil { // validation requires [attachments] base_url; a Config built elsewhere may lack it
		s.log.Error("a profile links attachments but no attachment store is configured ([attachments] base_url)",
			"msg_id", m.ID)
		return nil, s.fail(errTemporary, "storage")
	}
	var parts []attachments.Part
	for _, a := range atts {
		if want[a.Index] {
			parts = append(parts, a)
		}
	}
	staged, err := store.Stage(m.ID, body, parts)
	if err != nil {
		s.log.Error("attachment store failed", "msg_id", m.ID, "err", err)
		return nil, s.fail(errStorage, "storage")
	}
	for name, n := range linked {
		store.Linked(name, n)
	}
	return staged, nil
}

// attachmentTooBig is the 552 5.3.4 (docs/smtp.md) naming the file, its size, the
// limit and the profile. The reply is ASCII (RFC 5321 4.2): other
// characters of the file name show as '?'.
func attachmentTooBig(name string, size int64, p *Profile, sealed bool) *smtp.SMTPError {
	why := ""
	if sealed && p.AttachmentsAsURL != AttachNever && p.AttachmentsAsURL != "" {
		why = " (the message is signed or encrypted, so it cannot be sent with a link)"
	}
	if name == "" {
		name = "(no name)"
	}
	return reply(552, 5, 3, 4, fmt.Sprintf("Attachment %q is %d bytes, over the limit of %d bytes of profile %q%s; "+
		"send a smaller file or a link", asciiOnly(name), size, p.MaxAttachmentSize, p.Upstream.Name, why))
}

func asciiOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// linkAttachments replaces, in env.Body, the attachments that profile p
// links by the links stored at acceptance. It runs after the
// header rewrites and before DKIM signs, so the signature covers what is
// sent. A signed or encrypted message is never changed (Rewrite checks).
// It fails when the store failed to make the message's files durable
// (the message is being withdrawn), or is failing and the message has an
// attachment to link: nothing is sent then, the recipient is deferred.
func (dv *delivery) linkAttachments(env *upstream.Envelope, m *spool.Message, p *Profile) error {
	store := dv.attach
	if store == nil || p.AttachmentsAsURL == AttachNever || p.AttachmentsAsURL == "" {
		return nil
	}
	stored, err := store.Links(m.ID)
	if err != nil {
		if len(linkedParts(env.Body, p)) == 0 {
			return nil // nothing to link: the store's failure is not this message's
		}
		return err
	}
	if len(stored) == 0 {
		if !m.Created.Before(store.OpenedAt()) {
			return nil // accepted since the start: none were to be linked
		}
		if stored, err = dv.storeAgain(env, m, p); err != nil || len(stored) == 0 {
			return err
		}
	}
	links := map[int]attachments.Link{}
	for i, l := range stored {
		if linksFor(p, l.Size) {
			links[i] = l
		}
	}
	if len(links) == 0 {
		return nil
	}
	body, err := attachments.Rewrite(env.Body, links)
	if err != nil {
		dv.log.Warn("attachments not replaced by links: sending the message as it is", "msg_id", m.ID,
			"profile", p.Upstream.Name, "err", err)
		return nil
	}
	env.Body = body
	return nil
}

// storeAgain stores the attachments profile p links, of a message that
// has none stored: the spool made the message durable but the power
// failed before the attachment store's round did (the two run at the
// same time, and the client got no 250), so the store lost them or kept
// them torn (Links checks the files of a message it did not store itself
// since the start). They are stored from the spool's copy, and marked
// committed, before anything is sent. Only a message accepted before the
// store was opened gets here; one without such attachments costs a walk.
// (If another profile of the message links other parts, those go out as
// they are.)
func (dv *delivery) storeAgain(env *upstream.Envelope, m *spool.Message, p *Profile) (map[int]attachments.Link, error) {
	parts := linkedParts(env.Body, p)
	if len(parts) == 0 {
		return nil, nil
	}
	if _, err := dv.attach.Put(m.ID, env.Body, parts); err != nil {
		return nil, err
	}
	dv.log.Warn("attachments stored again before delivery: the attachment store had lost them or kept them incomplete "+
		"(a power cut while the message was being accepted)", "msg_id", m.ID, "profile", p.Upstream.Name, "files", len(parts))
	return dv.attach.Links(m.ID)
}

// linkedParts are the attachments of body that profile p replaces by a
// link; none of a signed or encrypted message.
func linkedParts(body []byte, p *Profile) []attachments.Part {
	t := attachments.Walk(body)
	if t.Sealed {
		return nil
	}
	var out []attachments.Part
	for _, a := range t.Attachments() {
		if linksFor(p, a.Size(body)) {
			out = append(out, a)
		}
	}
	return out
}

// apiAttachmentsUnset is the API's answer without an attachment store.
const apiAttachmentsUnset = "attachment links are not configured: set [attachments] base_url in the configuration"

// apiAttachments is GET /api/v1/attachments[?message=ID]: the stored
// attachments, oldest first; none without a store.
func (s *Server) apiAttachments(w http.ResponseWriter, r *http.Request) {
	var items []attachments.Info
	if store := s.opts.Attachments; store != nil {
		items = store.List(r.URL.Query().Get("message"))
	}
	if items == nil {
		items = []attachments.Info{}
	}
	WriteJSON(w, http.StatusOK, items)
}

// apiAttachmentRevoke is POST /api/v1/attachments/{token}/revoke: the
// link answers 410 from now on; 200 with the item, 404 unknown token.
func (s *Server) apiAttachmentRevoke(w http.ResponseWriter, r *http.Request) {
	store := s.opts.Attachments
	if store == nil {
		writeError(w, http.StatusNotFound, apiAttachmentsUnset)
		return
	}
	info, err := store.Revoke(r.PathValue("token"))
	if err != nil {
		writeError(w, http.StatusNotFound, "no stored attachment has this token; list them with `relayd attachments list`")
		return
	}
	s.log.Info("admin action", "msg_id", info.MessageID, "action", "revoke attachment link", "file", info.File)
	WriteJSON(w, http.StatusOK, info)
}
