package relay

import (
	"fmt"
	"sync"

	"github.com/relayd/relayd/relay/message"
	"github.com/relayd/relayd/upstream"
)

// sevenBit is Envelope.SevenBit for a message whose profile rewrites are
// done (unsigned, not DKIM-signed yet): for an upstream that does not offer
// 8BITMIME, upstream asks for the message made 7-bit (message.Downgrade:
// its 8-bit MIME parts re-encoded), which is then signed with the same
// keys as the 8-bit form, so the signature covers the octets that are sent.
// It runs at most once per delivery attempt, on first
// use, and is safe for the parallel domains of a direct delivery. Its
// error (8-bit header fields, a structure that cannot be re-encoded)
// becomes the 5.6.3 bounce's reason, so it is a plain sentence.
func (dv *delivery) sevenBit(gen *generation, id string, unsigned []byte) func() ([]byte, error) {
	return sync.OnceValues(func() ([]byte, error) {
		n := len(unsigned) + 1
		msg, err := message.Read(bytesReader(unsigned), message.Limits{MaxSize: int64(n), MaxLineLength: n,
			MaxHeaderBytes: n, MaxReceived: 1 << 30})
		if err != nil {
			return nil, fmt.Errorf("the queued message could not be read to re-encode it (%w)", err)
		}
		if _, err := msg.Downgrade(); err != nil {
			return nil, err
		}
		body := msg.Bytes()
		if len(gen.cfg.DKIM) == 0 {
			return body, nil
		}
		signed, err := upstream.SignDKIM(body, gen.cfg.DKIM)
		if err != nil {
			dv.log.Warn("DKIM signing failed; sending unsigned", "msg_id", id, "err", err)
			return body, nil
		}
		return signed, nil
	})
}
