package main

import (
	"fmt"
	"strings"
)

// inboundGap explains a throughput ratio under the goal from the run's own
// figures: the CPU the hop costs the machine per GB (sluice's, less what
// the broker saves by not decrypting TLS) against what the broker and the
// client spend per GB direct, the ratio those costs allow were the cores
// the only limit, where sluice's CPU goes (the profile's largest shares),
// and the round trip a request pays for being read whole before it is
// forwarded. hot is nil for a series the profile was not taken of. Empty
// when the goal is met or the series has no pairs.
func inboundGap(series string, f throughputFigures, hot []hotspot, cores int) string {
	if len(f.direct) == 0 || f.ratio.Median >= 0.95 {
		return ""
	}
	perGB := func(rs []runResult, cpu func(runResult) float64) float64 {
		return spreadOf(field(rs, func(r runResult) float64 {
			if r.TotalBytes == 0 {
				return 0
			}
			return cpu(r) / (float64(r.TotalBytes) / 1e9)
		})).Median
	}
	direct := perGB(f.direct, func(r runResult) float64 { return r.BrokerCPU + r.LoadCPU })
	saved := f.brokerPerGBdirect.Median - f.brokerPerGBsluice.Median
	extra := f.cpuPerGB.Median - saved
	busy := func(rs []runResult, cpu func(runResult) float64) float64 {
		return spreadOf(field(rs, func(r runResult) float64 { return cpu(r) / r.Elapsed })).Median
	}
	dBusy := busy(f.direct, func(r runResult) float64 { return r.BrokerCPU + r.LoadCPU + r.OtherCPU })
	sBusy := busy(f.sluice, func(r runResult) float64 { return r.SluiceCPU + r.BrokerCPU + r.LoadCPU + r.OtherCPU })
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	from := "the CPU split"
	if len(hot) > 0 {
		from += " and the profile"
	}
	w("**The throughput gap, %s, from %s.** Through sluice the broker spent %.1f CPU-seconds per GB instead of %.1f (it no longer decrypts TLS: sluice does), ", series, from, f.brokerPerGBsluice.Median, f.brokerPerGBdirect.Median)
	w("and sluice spent %.1f: the hop costs the machine %.1f s per GB more than the broker alone, ", f.cpuPerGB.Median, extra)
	w("against %.1f s per GB for the broker and the client together in the direct runs. ", direct)
	if extra > 0 && direct > 0 {
		w("Were the cores the only limit, that would allow a ratio of %.2f (%.1f ÷ %.1f). ", direct/(direct+extra), direct, direct+extra)
	}
	w("The machine's %d cores were shared: the direct runs kept %.2f of them busy, the runs through sluice %.2f (medians, other processes included), so the hop's CPU is taken from the broker and the client. ", cores, dBusy, sBusy)
	if len(hot) > 0 {
		var top []string
		for _, h := range hot[:min(4, len(hot))] {
			top = append(top, fmt.Sprintf("%s %.0f%%", h.What, 100*h.Share))
		}
		w("By the profile below, sluice's CPU goes to %s. ", strings.Join(top, "; "))
	}
	w("Each produce request (%.1f MB, median) is read whole and checked before it is written to the broker, so its round trip as the client sees it was %.1f ms through sluice against %.1f ms direct (medians).\n\n", f.sReqMB.Median, f.sRTT.Median, f.dRTT.Median)
	return s.String()
}
