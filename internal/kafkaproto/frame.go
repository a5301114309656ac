package kafkaproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxPreAuthBytes caps frames before authentication, like Kafka's
// sasl.server.max.receive.size (same default): an anonymous peer must not
// make the server allocate MaxRequestBytes.
const maxPreAuthBytes = 512 << 10

var errFrameTooLarge = errors.New("frame size out of bounds")

// header is the part of a request header the server needs. The header's
// tagged fields (v2) are skipped once the body's version is known.
type header struct {
	key, version int16
	corr         int32
	clientID     string // a null client id reads as "", as in Kafka
}

// frameSize decodes a 4-byte size prefix and checks it against limit, so
// that nothing is allocated for an oversize (or negative) frame.
func frameSize(prefix [4]byte, limit int32) (int32, error) {
	size := int32(binary.BigEndian.Uint32(prefix[:]))
	if size < 0 || size > limit {
		return size, fmt.Errorf("%w: %d bytes, limit %d", errFrameTooLarge, size, limit)
	}
	return size, nil
}

// parseHeader reads the fixed request header fields and returns a reader
// positioned after the client id. The client id is a non-compact nullable
// string in every header version (KIP-482 kept it so).
func parseHeader(frame []byte) (header, kbin.Reader, error) {
	r := kbin.Reader{Src: frame}
	var h header
	h.key = r.Int16()
	h.version = r.Int16()
	h.corr = r.Int32()
	if id := r.NullableString(); id != nil {
		h.clientID = *id
	}
	if err := r.Complete(); err != nil {
		return h, r, fmt.Errorf("reading request header: %w", err)
	}
	return h, r, nil
}

// decodeBody finishes the header (tag section when flexible) and decodes the
// body into req, whose version must already be set. kmsg's ReadFrom keeps
// byte slices (record batches) pointing into the frame, which is why every
// frame gets a fresh buffer.
func decodeBody(req kmsg.Request, r kbin.Reader) error {
	if req.IsFlexible() {
		if err := skipTags(&r); err != nil {
			return fmt.Errorf("reading request header tags: %w", err)
		}
		if err := checkPreAuthBody(req, r); err != nil {
			return fmt.Errorf("decoding %s v%d: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
		}
	}
	if err := req.ReadFrom(r.Src); err != nil {
		return fmt.Errorf("decoding %s v%d: %w", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return nil
}

var errTagCount = errors.New("tag count exceeds the remaining bytes")

// skipTags skips a tag section, refusing a count larger than the bytes left.
// kmsg's SkipTags and its decoders loop count times even after running out
// of input, so a five-byte count of 2^32-1 costs a core well over a minute
// (kmsg v1.15.0). Each tag takes at least two bytes (key and size).
func skipTags(r *kbin.Reader) error {
	n := r.Uvarint()
	if !r.Ok() {
		return r.Complete()
	}
	if int(n) > len(r.Src)/2 {
		return errTagCount
	}
	for ; n > 0 && r.Ok(); n-- {
		r.Uvarint() // key
		r.Span(int(r.Uvarint()))
	}
	return r.Complete()
}

// checkPreAuthBody walks, before kmsg does, the flexible requests that can
// arrive before authentication (ApiVersions v3+, SaslAuthenticate v2): a
// sequence of compact strings or bytes and one tag section. Once the tag
// count is known to fit, kmsg's own loop over it is bounded. Requests after
// authentication are not covered: their tag sections sit at the end of every
// nested struct, which only a schema-aware walker could find.
func checkPreAuthBody(req kmsg.Request, r kbin.Reader) error {
	var fields int
	switch req.Key() {
	case int16(kmsg.ApiVersions):
		fields = 2 // ClientSoftwareName, ClientSoftwareVersion (v3, v4)
	case int16(kmsg.SASLAuthenticate):
		fields = 1 // SASLAuthBytes (v2)
	default:
		return nil
	}
	for range fields {
		r.CompactBytes() // same encoding as a compact string
	}
	if err := r.Complete(); err != nil {
		return err
	}
	return skipTags(&r)
}

// bufPool recycles response encoding buffers: a fetch answer can be
// megabytes, and growing a fresh buffer to that size for every answer cost
// the Outbound listener a quarter of its CPU (bench/RESULTS.md).
type bufPool struct{ p sync.Pool }

// encodeResponse encodes a response frame into a pooled buffer sized for it;
// release returns the buffer once the frame is written.
func (bp *bufPool) encodeResponse(corr int32, resp kmsg.Response) (frame []byte, release func()) {
	b, _ := bp.p.Get().(*[]byte)
	if b == nil {
		b = new([]byte)
	}
	buf := (*b)[:0]
	if hint := sizeHint(resp); cap(buf) < hint {
		buf = make([]byte, 0, hint)
	}
	buf = appendResponse(buf, corr, resp)
	return buf, func() {
		*b = buf[:0]
		bp.p.Put(b)
	}
}

// sizeHint is a close upper estimate of a response's encoded size where it
// is dominated by record batches, else 0.
func sizeHint(resp kmsg.Response) int {
	r, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64 + 64*len(r.Brokers)
	for _, t := range r.Topics {
		n += 64 + len(t.Topic)
		for _, p := range t.Partitions {
			n += 96 + 24*len(p.AbortedTransactions) + len(p.RecordBatches)
		}
	}
	return n
}

// headerTags says whether a response's header has a tag section: flexible
// versions have one, except ApiVersions, whose responses always use header
// v0 even when the body is flexible (KIP-511): a client that does not yet
// know the server's versions must be able to read it.
func headerTags(resp kmsg.Response) bool {
	return resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions)
}

// DecodeResponse decodes the body of a response frame (what follows its
// size) to req: the correlation id must be corr, the header's tags (if
// any) are skipped, and the response is of req's kind and version. It is
// the client side of appendResponse, for whatever talks to a broker.
func DecodeResponse(body []byte, req kmsg.Request, corr int32) (kmsg.Response, error) {
	rd := kbin.Reader{Src: body}
	if got := rd.Int32(); got != corr {
		return nil, fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if headerTags(resp) {
		if err := skipTags(&rd); err != nil {
			return nil, fmt.Errorf("%s response header: %w", kmsg.NameForKey(req.Key()), err)
		}
	}
	if err := rd.Complete(); err != nil {
		return nil, fmt.Errorf("%s response header: %w", kmsg.NameForKey(req.Key()), err)
	}
	if err := resp.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("decoding %s response: %w", kmsg.NameForKey(req.Key()), err)
	}
	return resp, nil
}

// appendResponse encodes a whole response frame.
func appendResponse(dst []byte, corr int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if headerTags(resp) {
		dst = append(dst, 0) // empty header tag section
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
