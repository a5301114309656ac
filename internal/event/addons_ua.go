package event

import (
	"strconv"
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"
)

// keen:ua_parser — input "ua_string"; output (docs/contract.md §7):
//
//	{"device":  {"family": "iPhone", "type": "mobile phone"},
//	 "browser": {"family": "Mobile Safari", "major": 17, "minor": 4, "patch": null},
//	 "os":      {"family": "iOS", "major": 17, "minor": 4, "patch": 1, "patch_minor": null}}
//
// Families come from ua-parser (uap-go with the regexes it embeds), so they
// are today's ua-parser names: Windows 10 is {"family": "Windows", "major":
// 10}, where Keen's older parser wrote "Windows 10". Versions are numbers, as
// Keen documents; a part the parser did not find, or one that is not a whole
// number ("0b3"), is null. An input that is not a string is parsed as "".
//
// device.type is not something ua-parser gives; sluice derives it from the
// parsed device and OS and a few tokens of the string, first match wins:
//
//	"bot"           ua-parser's device family "Spider" (crawlers)
//	"tv"            smart TVs and streaming boxes (SmartTV, HbbTV, Android TV, AppleTV, Roku, Fire TV, Chromecast)
//	"game console"  PlayStation, Xbox, Nintendo
//	"tablet"        iPad, Kindle/Silk, Android without "Mobile", strings saying "Tablet"
//	"mobile phone"  iPhone/iPod, phone OSes, strings saying "Mobile"/"Phone"
//	"desktop"       desktop operating systems (Windows, Mac OS X, Linux, Chrome OS, BSDs)
//
// and is absent when none applies (an invalid or unknown user agent), as
// Keen's documentation says.

// uaCacheSize: user agents repeat heavily, and an uncached parse runs
// ua-parser's hundreds of regular expressions one after the other: about a
// millisecond or more of CPU for a common desktop browser (its patterns come
// late in the list), against microseconds for a cached one. Each of the
// three caches (browser, OS, device) holds this many strings.
const uaCacheSize = 8192

var uaParserOnce = sync.OnceValue(func() *uaparser.Parser {
	// uaparser.New is NewFromSaved without the deprecation: the embedded
	// regexes, here with a bigger cache. Compiling them takes a while, so it
	// happens on first use, once per process.
	p, err := uaparser.New(uaparser.WithCacheSize(uaCacheSize))
	if err != nil {
		panic("uaparser: embedded regexes do not compile: " + err.Error())
	}
	return p
})

func enrichUA(ws *workspace, v *value) value {
	s, _ := v.str()
	parser := uaParserOnce()
	// The three lookups are called directly: Parser.Parse would start three
	// goroutines per call.
	ua := parser.ParseUserAgent(s)
	os := parser.ParseOs(s)
	dev := parser.ParseDevice(s)

	device := ws.object(field("family", ws.strOrNull(dev.Family)))
	if t := deviceType(s, os, dev); t != "" {
		device = ws.object(device.members[0], field("type", ws.str(t)))
	}
	return ws.object(
		field("device", device),
		field("browser", ws.object(field("family", ws.strOrNull(ua.Family)), field("major", version(ws, ua.Major)),
			field("minor", version(ws, ua.Minor)), field("patch", version(ws, ua.Patch)))),
		field("os", ws.object(field("family", ws.strOrNull(os.Family)), field("major", version(ws, os.Major)),
			field("minor", version(ws, os.Minor)), field("patch", version(ws, os.Patch)), field("patch_minor", version(ws, os.PatchMinor)))),
	)
}

// version is a version part as a number, or null.
func version(ws *workspace, s string) value {
	if s == "" || len(s) > 15 || strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return nullValue // checked first: a failed ParseUint allocates its error
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	return ws.int(n)
}

var (
	tvTokens      = []string{"smarttv", "smart-tv", "hbbtv", "googletv", "android tv", "appletv", "apple tv", "roku", "crkey", "aftb", "aftm", "aftt", "aftk", "netcast", "webos.tv", "tizen tv", "bravia"}
	consoleTokens = []string{"playstation", "xbox", "nintendo"}
	tabletTokens  = []string{"ipad", "tablet", "kindle", "silk/", "playbook"}
	phoneTokens   = []string{"iphone", "ipod", "mobile", "phone", "blackberry", "opera mini", "iemobile"}
	phoneOS       = []string{"iOS", "Android", "Windows Phone", "BlackBerry OS", "Symbian OS", "Firefox OS", "KaiOS", "Tizen", "Sailfish"}
	desktopOS     = []string{"Windows", "Mac OS X", "Mac OS", "Linux", "Ubuntu", "Debian", "Fedora", "Red Hat", "SUSE", "Mint",
		"Arch Linux", "Gentoo", "Chrome OS", "ChromeOS", "FreeBSD", "OpenBSD", "NetBSD", "Solaris"}
)

func deviceType(s string, os *uaparser.Os, dev *uaparser.Device) string {
	if dev.Family == "Spider" {
		return "bot"
	}
	if s == "" {
		return ""
	}
	l := strings.ToLower(s)
	switch {
	case containsAny(l, tvTokens):
		return "tv"
	case containsAny(l, consoleTokens):
		return "game console"
	case dev.Family == "iPad" || containsAny(l, tabletTokens) && !strings.Contains(l, "tablet pc"),
		os.Family == "Android" && !strings.Contains(l, "mobile"):
		return "tablet"
	case containsAny(l, phoneTokens) || indexOf(phoneOS, os.Family) >= 0:
		return "mobile phone"
	case indexOf(desktopOS, os.Family) >= 0:
		return "desktop"
	}
	return ""
}

func containsAny(s string, tokens []string) bool {
	for _, t := range tokens {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}
