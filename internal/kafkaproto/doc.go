// Package kafkaproto is the listener side of sluice's Kafka gateway: it
// accepts TLS connections, speaks the Kafka wire protocol, terminates
// SASL/PLAIN and hands every authenticated request to a Handler. It knows
// nothing about projects, topics or forwarding; both listener roles
// (Inbound and Outbound) share it and differ only in their Config.
//
// Connection model. Each connection is served by one goroutine that reads
// frames and starts each request (Handler.Begin), and, from its first
// request for the Handler, a writer goroutine that writes the answers in
// request order (correlation ids echoed) while the next requests are read
// (up to 16 owed): a gateway overlaps a backend's work with reading the
// client's next request, and the client still sees Kafka's order. The
// handshake (ApiVersions and SASL) is answered in line, before any request
// is owed. Produce with acks=0 gets no response at all.
//
// SASL states. A fresh connection may send ApiVersions and SaslHandshake
// only. SaslHandshake v1 is followed by SaslAuthenticate requests;
// SaslHandshake v0 (kafka-python 2.0.x) is followed by one unframed PLAIN
// token. Anything else before authentication closes the connection, as
// Kafka does. Re-authentication (KIP-368) is not offered: the session
// lifetime is 0 and the server instead closes connections whose Principal
// has become invalid.
//
// Refusals. Whatever the client did wrong (oversize frame, unknown key, key
// or version outside Config.APIs, malformed request, wrong SASL stage) closes
// the connection after logging it and telling the Observer, which is also
// what Kafka does; the only locally produced error responses are those the
// protocol defines for the handshake: UNSUPPORTED_VERSION and INVALID_REQUEST
// (bad client software name) for ApiVersions, UNSUPPORTED_SASL_MECHANISM and
// SASL_AUTHENTICATION_FAILED.
//
// Limits. Config.MaxConns caps a Server's connections, authenticated or
// not, and Config.MaxPendingPerAddress one remote address's unauthenticated
// ones (a connection over either is closed before TLS); Config.MaxConnsPerUser
// caps one user's authenticated connections (SaslAuthenticate over it fails
// with SASL_AUTHENTICATION_FAILED and says why); AuthTimeout bounds how long
// a connection may stay unauthenticated. A failed authentication is
// answered after a delay that doubles with each recent failure from the
// same address. Failures and refusals anybody can cause before
// authentication are logged a few at a time with a summary line per
// interval (package ratelog); the Observer counts each.
//
// Tag counts: kmsg's decoders loop over a tagged-field count read from the
// wire, so a flexible request claiming 2^32 tags could burn a core for over
// a minute. sluice builds kmsg from third_party/kmsg, whose loops stop when
// the input runs out (its SLUICE.md); the server also checks the tag
// sections it reads before authentication itself (header tags, ApiVersions,
// SaslAuthenticate). TestTagCountBomb covers both.
package kafkaproto
