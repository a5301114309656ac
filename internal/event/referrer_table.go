package event

// The referrer parser's table of known sites: the most used search engines,
// webmail sites and social networks, by host. Host names and search
// parameters follow Snowplow's referer-parser data (referers.yml), cut down
// to the sites that bring most traffic; extend it here. A host matches
// itself and its subdomains (m.facebook.com matches facebook.com);
// referrerBrands match the brand under any country domain (google.fr,
// google.com.au, yandex.com.tr).

type referrerSite struct {
	medium string   // SEARCH, EMAIL, SOCIAL or UNKNOWN (a known site, medium unknown)
	source string   // e.g. "Google"
	params []string // query parameters holding the search term, in order
}

var (
	siteGoogle = &referrerSite{"SEARCH", "Google", []string{"q"}}
	siteYandex = &referrerSite{"SEARCH", "Yandex", []string{"text"}}
)

var referrerBrands = map[string]*referrerSite{
	"google": siteGoogle,
	"yandex": siteYandex,
}

var referrerHosts = map[string]*referrerSite{}

func init() {
	add := func(s *referrerSite, hosts ...string) {
		for _, h := range hosts {
			referrerHosts[h] = s
		}
	}
	search := func(source string, params []string, hosts ...string) {
		add(&referrerSite{"SEARCH", source, params}, hosts...)
	}
	email := func(source string, hosts ...string) { add(&referrerSite{"EMAIL", source, nil}, hosts...) }
	social := func(source string, hosts ...string) { add(&referrerSite{"SOCIAL", source, nil}, hosts...) }

	// Google's non-search sites: known source, medium unknown.
	add(&referrerSite{"UNKNOWN", "Google", nil}, "support.google.com", "developers.google.com", "maps.google.com",
		"accounts.google.com", "drive.google.com", "docs.google.com", "sites.google.com", "groups.google.com",
		"calendar.google.com", "photos.google.com", "play.google.com")

	search("Bing", []string{"q", "Q"}, "bing.com", "cc.bingj.com")
	search("Yahoo!", []string{"p", "q"}, "search.yahoo.com", "search.yahoo.co.jp", "search.yahoo.net")
	search("DuckDuckGo", []string{"q"}, "duckduckgo.com")
	search("Baidu", []string{"wd", "word", "kw"}, "baidu.com")
	search("Ecosia", []string{"q"}, "ecosia.org")
	search("Ask", []string{"q"}, "ask.com", "search-results.com")
	search("AOL", []string{"q", "query"}, "search.aol.com", "search.aol.co.uk")
	search("Naver", []string{"query"}, "search.naver.com")
	search("Daum", []string{"q"}, "search.daum.net")
	search("Seznam", []string{"q"}, "search.seznam.cz")
	search("Sogou", []string{"query"}, "sogou.com")
	search("360.cn", []string{"q"}, "so.com", "so.360.cn")
	search("Qwant", []string{"q"}, "qwant.com")
	search("Startpage", []string{"query", "q"}, "startpage.com")
	search("Brave", []string{"q"}, "search.brave.com")
	search("Yandex", []string{"text"}, "ya.ru")

	email("Gmail", "mail.google.com", "inbox.google.com")
	email("Outlook.com", "mail.live.com", "outlook.live.com", "outlook.office.com", "outlook.office365.com")
	email("Yahoo! Mail", "mail.yahoo.com", "mail.yahoo.co.uk", "mail.yahoo.co.jp", "mail.yahoo.net")
	email("AOL Mail", "mail.aol.com")
	email("Yandex", "mail.yandex.ru", "mail.yandex.com", "mail.yandex.ua", "mail.yandex.by", "mail.yandex.kz")
	email("Mail.ru", "e.mail.ru", "touch.mail.ru")
	email("Proton Mail", "mail.proton.me", "mail.protonmail.com")
	email("Zoho", "mail.zoho.com", "mail.zoho.eu")
	email("QQ Mail", "mail.qq.com", "exmail.qq.com")
	email("163 Mail", "mail.163.com")
	email("126 Mail", "mail.126.com")
	email("Naver Mail", "mail.naver.com")
	email("Daum Mail", "mail.daum.net")
	email("Seznam Mail", "email.seznam.cz")

	social("Facebook", "facebook.com", "fb.me", "fb.com")
	social("Twitter", "twitter.com", "t.co", "x.com")
	social("Instagram", "instagram.com")
	social("LinkedIn", "linkedin.com", "lnkd.in")
	social("Youtube", "youtube.com", "youtu.be")
	social("Reddit", "reddit.com")
	social("Pinterest", "pinterest.com")
	social("TikTok", "tiktok.com")
	social("Tumblr", "tumblr.com", "t.umblr.com")
	social("Vkontakte", "vk.com", "vkontakte.ru")
	social("Odnoklassniki", "ok.ru", "odnoklassniki.ru")
	social("Weibo", "weibo.com", "t.cn")
	social("Quora", "quora.com")
	social("Hacker News", "news.ycombinator.com")
	social("GitHub", "github.com")
	social("StackOverflow", "stackoverflow.com")
	social("WhatsApp", "web.whatsapp.com")
	social("Telegram", "t.me", "web.telegram.org")
	social("Mastodon", "mastodon.social")
	social("Threads", "threads.net")
	social("Bluesky", "bsky.app")
}
