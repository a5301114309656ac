package event

import "testing"

func TestReferrerParser(t *testing.T) {
	p := newTestProcessor(t, nil)
	const page = `"https://shop.example.com/landing?utm=1"`
	for _, c := range []struct{ ref, page, want string }{
		// SEARCH, with and without a term.
		{`"https://www.google.com/search?q=deer+turtleneck&hl=en"`, page, `{"medium":"SEARCH","source":"Google","term":"deer turtleneck"}`},
		{`"https://www.google.co.uk/"`, page, `{"medium":"SEARCH","source":"Google","term":null}`},
		{`"https://google.de/url?sa=t&q=%C3%BCber"`, page, `{"medium":"SEARCH","source":"Google","term":"über"}`},
		{`"https://www.bing.com/search?q=keen+io&form=QBLH"`, page, `{"medium":"SEARCH","source":"Bing","term":"keen io"}`},
		{`"https://uk.search.yahoo.com/search?p=analytics"`, page, `{"medium":"SEARCH","source":"Yahoo!","term":"analytics"}`},
		{`"https://duckduckgo.com/?q=events"`, page, `{"medium":"SEARCH","source":"DuckDuckGo","term":"events"}`},
		{`"https://yandex.ru/search/?text=%D0%BA%D0%B8%D0%BD%D0%BE"`, page, `{"medium":"SEARCH","source":"Yandex","term":"кино"}`},
		{`"https://www.baidu.com/s?wd=keen"`, page, `{"medium":"SEARCH","source":"Baidu","term":"keen"}`},
		// EMAIL.
		{`"https://mail.google.com/mail/u/0/"`, page, `{"medium":"EMAIL","source":"Gmail","term":null}`},
		{`"https://outlook.live.com/mail/0/inbox"`, page, `{"medium":"EMAIL","source":"Outlook.com","term":null}`},
		{`"https://mail.yahoo.com/d/folders/1"`, page, `{"medium":"EMAIL","source":"Yahoo! Mail","term":null}`},
		// SOCIAL.
		{`"https://l.facebook.com/l.php?u=x"`, page, `{"medium":"SOCIAL","source":"Facebook","term":null}`},
		{`"https://t.co/abc"`, page, `{"medium":"SOCIAL","source":"Twitter","term":null}`},
		// INTERNAL: same host, "www." ignored, scheme and port ignored.
		{`"https://shop.example.com/cart"`, page, `{"medium":"INTERNAL","source":null,"term":null}`},
		{`"http://www.example.com/a"`, `"https://example.com:8443/b"`, `{"medium":"INTERNAL","source":null,"term":null}`},
		{`"https://www.google.com/search?q=x"`, `"https://www.google.com/maps"`, `{"medium":"INTERNAL","source":null,"term":null}`},
		// UNKNOWN: well formed, not known; a sibling subdomain is not internal.
		{`"https://blog.example.org/post/1"`, page, `{"medium":"UNKNOWN","source":null,"term":null}`},
		{`"https://www.example.com/"`, page, `{"medium":"UNKNOWN","source":null,"term":null}`},
		{`"https://docs.google.com/document/d/1"`, page, `{"medium":"UNKNOWN","source":"Google","term":null}`},
		{`"https://co.uk/"`, page, `{"medium":"UNKNOWN","source":null,"term":null}`},
		// Malformed or empty input: blank values.
		{`""`, page, `{"medium":null,"source":null,"term":null}`},
		{`"not a url"`, page, `{"medium":null,"source":null,"term":null}`},
		{`"/relative/path"`, page, `{"medium":null,"source":null,"term":null}`},
		{`"http://bad host.com/"`, page, `{"medium":null,"source":null,"term":null}`},
		{`"https://www.google.com/"`, `"landing-page"`, `{"medium":null,"source":null,"term":null}`},
		{`17`, page, `{"medium":null,"source":null,"term":null}`},
	} {
		_, m := mustProcess(t, p, testInput(withAddons(`"ref":`+c.ref+`,"page":`+c.page,
			`{"name":"keen:referrer_parser","input":{"referrer_url":"ref","page_url":"page"},"output":"r"}`)))
		got, ok := m["r"]
		if !ok {
			t.Errorf("%s: no output", c.ref)
			continue
		}
		equalJSON(t, got, c.want)
	}
}
