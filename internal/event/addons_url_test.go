package event

import "testing"

func urlOutput(t *testing.T, p *Processor, urlJSON string) any {
	t.Helper()
	_, m := mustProcess(t, p, testInput(withAddons(`"u":`+urlJSON, `{"name":"keen:url_parser","input":{"url":"u"},"output":"out"}`)))
	out, ok := m["out"]
	if !ok {
		t.Fatalf("%s: no output", urlJSON)
	}
	return out
}

func TestURLParser(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct{ url, want string }{
		// Keen's documented example.
		{`"http://my-website.com/cool/link?source=twitter&foo=bar/#title"`,
			`{"protocol":"http","domain":"my-website.com","path":"/cool/link","anchor":"title","query_string":{"source":"twitter","foo":"bar/"}}`},
		{`"https://keen.io/super-awesome-content"`, `{"protocol":"https","domain":"keen.io","path":"/super-awesome-content"}`},
		{`"https://keen.io/docs?x=1"`, `{"protocol":"https","domain":"keen.io","path":"/docs","query_string":{"x":"1"}}`},
		{`"https://keen.io/docs#top"`, `{"protocol":"https","domain":"keen.io","path":"/docs","anchor":"top"}`},
		{`"https://keen.io"`, `{"protocol":"https","domain":"keen.io"}`},
		{`"HTTPS://WWW.Example.COM:8443/A/B"`, `{"protocol":"https","domain":"www.example.com","path":"/A/B"}`},
		// Decoding, repeated keys, keys that are not property names.
		{`"http://a.com/caf%C3%A9?q=deer+turtleneck&q=second&utm.source=x&$ref=y&=z&flag&e=%E2%82%AC#sec%20two"`,
			`{"protocol":"http","domain":"a.com","path":"/café","anchor":"sec two","query_string":{"q":"deer turtleneck","utm_source":"x","_ref":"y","flag":"","e":"€"}}`},
		{`"http://a.com/?"`, `{"protocol":"http","domain":"a.com","path":"/"}`},
		{`"http://[2001:db8::1]:8080/x"`, `{"protocol":"http","domain":"2001:db8::1","path":"/x"}`},
		// Relative and odd input: the parts there are.
		{`"/just/a/path?x=1"`, `{"path":"/just/a/path","query_string":{"x":"1"}}`},
		{`"my-website.com/page"`, `{"path":"my-website.com/page"}`},
		{`"mailto:someone@example.com"`, `{"protocol":"mailto"}`},
		{`""`, `{}`},
		// Not a URL, not a string: blank.
		{`"http://a b.com/%zz"`, `{}`},
		{`42`, `{}`},
		{`{"href":"http://a.com"}`, `{}`},
	} {
		equalJSON(t, urlOutput(t, p, c.url), c.want)
	}
}
