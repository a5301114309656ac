package kafkaproto

import (
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Spliced is an answer a Handler built as a frame itself (Splicer.Fetch)
// rather than a response for the server to encode: Segs, size prefix and
// header included, are written in order, in one writev where the
// connection allows (one TLS record or more per segment on a TLS
// connection). Response says what it answers (its key and version, checked
// against the request's) and is not encoded. Segs must stay valid until
// the answer is written, that is until the Handler's next Pending is
// called.
type Spliced struct {
	kmsg.Response
	Segs net.Buffers
}
