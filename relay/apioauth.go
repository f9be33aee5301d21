package relay

import (
	"net/http"
	"sort"
	"time"
)

// OAuthProfile is one entry of GET /api/v1/oauth: the running daemon's view
// of a profile's OAuth2 token (`relayd oauth status`). It holds no
// secret: whether a refresh token is present, never the token.
type OAuthProfile struct {
	Profile             string     `json:"profile"`
	Grant               string     `json:"grant"`
	RefreshTokenFile    string     `json:"refresh_token_file"`
	RefreshTokenPresent bool       `json:"refresh_token_present"`
	AccessToken         bool       `json:"access_token"`        // relayd holds one
	AccessTokenExpiry   *time.Time `json:"access_token_expiry"` // null: none held, or no expiry given
	LastRefresh         *time.Time `json:"last_refresh"`        // null: none since the start
	LastError           string     `json:"last_error"`          // "" when the last refresh worked
}

// precreatePool creates the upstream metric series of cfg's profiles at 0.
func (s *Server) precreatePool(cfg *Config) {
	for _, p := range cfg.Profiles {
		s.pool.Precreate(&p.Upstream)
	}
}

// apiOAuth lists the profiles that have [profile.oauth2], by name.
func (s *Server) apiOAuth(w http.ResponseWriter, r *http.Request) {
	out := []OAuthProfile{}
	for name, p := range s.gen.Load().cfg.Profiles {
		if p.Upstream.OAuth2 == nil {
			continue
		}
		st := s.pool.OAuthStatus(&p.Upstream)
		op := OAuthProfile{Profile: name, Grant: st.Grant, RefreshTokenFile: st.RefreshTokenFile,
			RefreshTokenPresent: st.RefreshTokenPresent, AccessToken: st.HasAccessToken, LastError: st.LastError}
		if !st.AccessTokenExpiry.IsZero() {
			op.AccessTokenExpiry = timePtr(st.AccessTokenExpiry.UTC())
		}
		if !st.LastRefresh.IsZero() {
			op.LastRefresh = timePtr(st.LastRefresh.UTC())
		}
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	WriteJSON(w, http.StatusOK, out)
}

func timePtr(t time.Time) *time.Time { return &t }
