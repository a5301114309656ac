package main

import (
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

var (
	colDirect = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colSluice = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// pooled returns every latency of the measured runs of one side, sorted.
func pooled(rs []runResult) []float64 {
	var all []float64
	for _, r := range rs {
		all = append(all, r.Latency...)
	}
	slices.Sort(all)
	return all
}

// nines maps a quantile to -log10(1-q): 90% → 1, 99% → 2, 99.9% → 3.
func nines(q float64) float64 { return -math.Log10(1 - q) }

type ninesTicks struct{ max float64 }

func (t ninesTicks) Ticks(min, max float64) []plot.Tick {
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	var out []plot.Tick
	for i, l := range labels {
		if float64(i) > max+1e-9 {
			break
		}
		out = append(out, plot.Tick{Value: float64(i), Label: l})
	}
	return out
}

func (b *bench) plotLatency(rep *report) error {
	direct, sluice := pairsOf(rep.Latency)
	sides := []struct {
		name string
		v    []float64
		col  color.Color
	}{
		{"direct (broker SASL_SSL)", pooled(direct), colDirect},
		{"through sluice", pooled(sluice), colSluice},
	}
	for _, s := range sides {
		if len(s.v) == 0 {
			return fmt.Errorf("no latency figures for %s", s.name)
		}
	}

	cdf := plot.New()
	cdf.Title.Text = "CDF of produce latency"
	cdf.X.Label.Text = "latency, ms (log scale)"
	cdf.Y.Label.Text = "fraction of records acknowledged"
	cdf.X.Scale = plot.LogScale{}
	cdf.X.Tick.Marker = plot.LogTicks{Prec: -1}
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Add(plotter.NewGrid())
	cdf.Legend.Top = false
	cdf.Legend.Left = false
	cdf.Legend.XOffs = -vg.Millimeter * 2
	cdf.Legend.YOffs = vg.Millimeter * 8

	tail := plot.New()
	tail.Title.Text = "Latency by percentile (tail)"
	tail.X.Label.Text = "percentile"
	tail.Y.Label.Text = "latency, ms (log scale)"
	tail.Y.Scale = plot.LogScale{}
	tail.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	tail.Add(plotter.NewGrid())
	tail.Legend.Top = true
	tail.Legend.Left = true
	tail.Legend.XOffs = vg.Millimeter * 4
	tail.Legend.YOffs = -vg.Millimeter * 4

	lo, hi := math.Inf(1), 0.0
	maxNines := 0.0
	for _, s := range sides {
		lo, hi = math.Min(lo, s.v[0]), math.Max(hi, s.v[len(s.v)-1])
		n := len(s.v)
		// The CDF: one point per 0.1% and every point of the last 1%.
		line, err := plotter.NewLine(cdfPoints(s.v))
		if err != nil {
			return err
		}
		line.Color, line.Width = s.col, vg.Points(1.8)
		cdf.Add(line)
		cdf.Legend.Add(s.name, line)

		// Latency by percentile up to the last whole record.
		top := math.Floor(math.Log10(float64(n))*10) / 10
		maxNines = math.Max(maxNines, top)
		tl, err := plotter.NewLine(tailPoints(s.v, top))
		if err != nil {
			return err
		}
		tl.Color, tl.Width = s.col, vg.Points(1.8)
		tail.Add(tl)
		tail.Legend.Add(fmt.Sprintf("%s: p50 %.2f, p99 %.2f, p99.9 %.2f ms", s.name, quantile(s.v, .5), quantile(s.v, .99), quantile(s.v, .999)), tl)
	}
	cdf.X.Min, cdf.X.Max = lo*0.9, hi*1.1
	tail.X.Min, tail.X.Max = 0, maxNines
	tail.X.Tick.Marker = ninesTicks{max: maxNines}
	tail.Y.Min, tail.Y.Max = lo*0.9, hi*3

	const width, height = 12 * vg.Inch, 5 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))
	dc := draw.New(img)
	title := fmt.Sprintf("Produce latency, %d records/s of %d B JSON, acks=all, no compression; %d runs × %.0f s per side",
		b.cfg.rate, b.cfg.recordSize, len(direct), b.cfg.latDuration.Seconds())
	font := plot.DefaultFont
	font.Size = vg.Points(13)
	sty := draw.TextStyle{Color: color.Black, Font: font, XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(sty, vg.Point{X: width / 2, Y: height - vg.Millimeter*2}, title)
	body := draw.Crop(dc, vg.Millimeter*2, -vg.Millimeter*2, vg.Millimeter*2, -vg.Millimeter*9)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 8, PadY: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{cdf, tail}}, tiles, body)
	cdf.Draw(canvases[0][0])
	tail.Draw(canvases[0][1])

	f, err := os.Create(b.cfg.plot)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cdfPoints is the CDF of sorted values: one point per 0.1% and every
// point of the last 1%.
func cdfPoints(v []float64) plotter.XYs {
	n := len(v)
	var pts plotter.XYs
	for i := 0; i < n-n/100; i += max(n/1000, 1) {
		pts = append(pts, plotter.XY{X: v[i], Y: float64(i+1) / float64(n)})
	}
	for i := max(n-n/100, 0); i < n; i++ {
		pts = append(pts, plotter.XY{X: v[i], Y: float64(i+1) / float64(n)})
	}
	return pts
}

// tailPoints is latency by percentile in "nines" (x = k for the
// 1-10^-k quantile), from 0 to top, of sorted values.
func tailPoints(v []float64, top float64) plotter.XYs {
	var tp plotter.XYs
	for k := 0.0; k <= top+1e-9; k += 0.01 {
		tp = append(tp, plotter.XY{X: k, Y: quantile(v, 1-math.Pow(10, -k))})
	}
	return tp
}
