package event

import "testing"

func uaOutput(t *testing.T, p *Processor, uaJSON string) any {
	t.Helper()
	_, m := mustProcess(t, p, testInput(withAddons(`"ua":`+uaJSON, `{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"tech"}`)))
	return m["tech"]
}

func TestUAParser(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct{ name, ua, want string }{
		{"desktop Chrome",
			"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36",
			`{"device":{"family":"Other","type":"desktop"},"browser":{"family":"Chrome","major":124,"minor":0,"patch":6367},` +
				`"os":{"family":"Windows","major":10,"minor":null,"patch":null,"patch_minor":null}}`},
		{"iPhone Safari",
			"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
			`{"device":{"family":"iPhone","type":"mobile phone"},"browser":{"family":"Mobile Safari","major":17,"minor":4,"patch":1},` +
				`"os":{"family":"iOS","major":17,"minor":4,"patch":1,"patch_minor":null}}`},
		{"bot",
			"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
			`{"device":{"family":"Spider","type":"bot"},"browser":{"family":"Googlebot","major":2,"minor":1,"patch":null},` +
				`"os":{"family":"Other","major":null,"minor":null,"patch":null,"patch_minor":null}}`},
		{"Keen's documented example",
			"Mozilla/5.0 (iPhone; U; CPU iPhone OS 5_1_1 like Mac OS X; en) AppleWebKit/534.46.0 (KHTML, like Gecko) CriOS/19.0.1084.60 Mobile/9B206 Safari/7534.48.3",
			`{"device":{"family":"iPhone","type":"mobile phone"},"browser":{"family":"Chrome Mobile iOS","major":19,"minor":0,"patch":1084},` +
				`"os":{"family":"iOS","major":5,"minor":1,"patch":1,"patch_minor":null}}`},
		{"not a user agent", "garbage !!",
			`{"device":{"family":"Other"},"browser":{"family":"Other","major":null,"minor":null,"patch":null},` +
				`"os":{"family":"Other","major":null,"minor":null,"patch":null,"patch_minor":null}}`},
	} {
		t.Run(c.name, func(t *testing.T) { equalJSON(t, uaOutput(t, p, jsonOf(c.ua)), c.want) })
	}
	// Not a string: parsed as "".
	equalJSON(t, uaOutput(t, p, `12`), `{"device":{"family":"Other"},"browser":{"family":"Other","major":null,"minor":null,"patch":null},`+
		`"os":{"family":"Other","major":null,"minor":null,"patch":null,"patch_minor":null}}`)
}

func TestUADeviceType(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, c := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36", `"mobile phone"`},
		{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Safari/537.36", `"tablet"`},
		{"Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1", `"tablet"`},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", `"desktop"`},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", `"desktop"`},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041", `"game console"`},
		{"Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36", `"tv"`},
		{"Mozilla/5.0 (Linux; Android 10; Pixel 4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", `"bot"`},
		{"curl/8.5.0", "<absent>"},
		{"", "<absent>"},
	} {
		_, m := mustProcess(t, p, testInput(withAddons(`"ua":`+jsonOf(c.ua), `{"name":"keen:ua_parser","input":{"ua_string":"ua"},"output":"tech"}`)))
		checkFields(t, m, map[string]string{"tech.device.type": c.want})
	}
}
