package main

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// plotE2E draws the end-to-end latency distributions, all windows pooled:
// the CDF on a log axis and the latency by percentile (the tail).
func plotE2E(c obConfig, e *obE2E) error {
	if e == nil {
		return errors.New("no end-to-end figures")
	}
	series := []struct {
		path, name string
		col        color.Color
		dashed     bool
	}{
		{pathAckToSluice, "ack → consumed through sluice", colSluice, false},
		{pathAckToDirect, "ack → consumed direct (read_committed)", colDirect, false},
		{pathAckToWritten, "ack → written by the pipeline", color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, true},
		{pathProduceAck, "produce → ack", color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, true},
	}
	cdf := plot.New()
	cdf.Title.Text = "CDF"
	cdf.X.Label.Text = "latency, ms (log scale)"
	cdf.Y.Label.Text = "fraction of events"
	cdf.X.Scale = plot.LogScale{}
	cdf.X.Tick.Marker = plot.LogTicks{Prec: -1}
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Add(plotter.NewGrid())
	cdf.Legend.Top, cdf.Legend.Left = false, true
	cdf.Legend.XOffs, cdf.Legend.YOffs = vg.Millimeter*2, vg.Millimeter*8

	tail := plot.New()
	tail.Title.Text = "Latency by percentile (tail)"
	tail.X.Label.Text = "percentile"
	tail.Y.Label.Text = "latency, ms (log scale)"
	tail.Y.Scale = plot.LogScale{}
	tail.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	tail.Add(plotter.NewGrid())
	tail.Legend.Top, tail.Legend.Left = false, false
	tail.Legend.XOffs, tail.Legend.YOffs = -vg.Millimeter*2, vg.Millimeter*2

	const floor = 0.01 // ms: a log axis has no zero
	lo, hi, maxNines := math.Inf(1), 0.0, 0.0
	for _, sr := range series {
		v := slices.Clone(e.Pooled.samples[sr.path])
		if len(v) == 0 {
			continue
		}
		for i := range v {
			v[i] = math.Max(v[i], floor)
		}
		slices.Sort(v)
		n := len(v)
		lo, hi = math.Min(lo, v[0]), math.Max(hi, v[n-1])
		line, err := plotter.NewLine(cdfPoints(v))
		if err != nil {
			return err
		}
		line.Color, line.Width = sr.col, vg.Points(1.8)
		if sr.dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		cdf.Add(line)
		cdf.Legend.Add(sr.name, line)

		top := math.Floor(math.Log10(float64(n))*10) / 10
		maxNines = math.Max(maxNines, top)
		tl, err := plotter.NewLine(tailPoints(v, top))
		if err != nil {
			return err
		}
		tl.Color, tl.Width, tl.Dashes = sr.col, vg.Points(1.8), line.Dashes
		tail.Add(tl)
		tail.Legend.Add(fmt.Sprintf("%s: p50 %.0f, p99 %.0f, p99.9 %.0f ms", sr.name, quantile(v, .5), quantile(v, .99), quantile(v, .999)), tl)
	}
	if hi == 0 {
		return errors.New("no end-to-end latencies to plot")
	}
	cdf.X.Min, cdf.X.Max = lo*0.9, hi*1.1
	tail.X.Min, tail.X.Max = 0, maxNines
	tail.X.Tick.Marker = ninesTicks{max: maxNines}
	tail.Y.Min, tail.Y.Max = lo*0.9, hi*1.5

	over, err := timelinePlot(e)
	if err != nil {
		return err
	}

	const width, height = 12 * vg.Inch, 8.5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
	dc := draw.New(img)
	title := fmt.Sprintf("End to end through sluice: %d events/s of %d B JSON, produce ack → consumed on the Outbound listener; %d × %.0f s windows",
		e.Rate, e.EventBytes, len(e.Windows), e.WindowSeconds)
	font := plot.DefaultFont
	font.Size = vg.Points(13)
	sty := draw.TextStyle{Color: color.Black, Font: font, XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(sty, vg.Point{X: width / 2, Y: height - vg.Millimeter*2}, title)
	body := draw.Crop(dc, vg.Millimeter*2, -vg.Millimeter*2, vg.Millimeter*2, -vg.Millimeter*9)
	top := draw.Crop(body, 0, 0, body.Rectangle.Size().Y*0.42, 0)
	bottom := draw.Crop(body, 0, 0, 0, -body.Rectangle.Size().Y*0.6)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 8, PadY: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{cdf, tail}}, tiles, top)
	cdf.Draw(canvases[0][0])
	tail.Draw(canvases[0][1])
	over.Draw(bottom)

	f, err := os.Create(c.plot)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// timelinePlot shows ack → consumed through sluice over the run, per
// 100 ms of send time: the median and the maximum, so that stalls show.
func timelinePlot(e *obE2E) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Over time: ack → consumed through sluice, per 100 ms of send time"
	p.X.Label.Text = "seconds since the first measured event was sent"
	p.Y.Label.Text = "latency, ms (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	buckets := map[int][]float64{}
	last := 0
	for _, pt := range e.Pooled.timeline {
		b := int(pt[0] * 10)
		buckets[b] = append(buckets[b], math.Max(pt[1], 0.01))
		last = max(last, b)
	}
	var med, top plotter.XYs
	lo, hi := math.Inf(1), 0.0
	for b := 0; b <= last; b++ {
		v := buckets[b]
		if len(v) == 0 {
			continue
		}
		slices.Sort(v)
		x := float64(b) / 10
		med = append(med, plotter.XY{X: x, Y: quantile(v, .5)})
		top = append(top, plotter.XY{X: x, Y: v[len(v)-1]})
		lo, hi = math.Min(lo, v[0]), math.Max(hi, v[len(v)-1])
	}
	if len(med) == 0 {
		return nil, errors.New("no end-to-end latencies over time")
	}
	for _, l := range []struct {
		name string
		pts  plotter.XYs
		col  color.Color
	}{{"maximum", top, color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}}, {"median", med, colSluice}} {
		line, err := plotter.NewLine(l.pts)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = l.col, vg.Points(1.4)
		p.Add(line)
		p.Legend.Add(l.name, line)
	}
	p.Y.Min, p.Y.Max = lo*0.9, hi*1.5
	return p, nil
}
