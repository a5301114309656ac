package main

import "testing"

func TestCDFPoints(t *testing.T) {
	for _, n := range []int{1, 50, 1000, 12345} {
		v := make([]float64, n)
		for i := range v {
			v[i] = float64(i)
		}
		pts := cdfPoints(v)
		if last := pts[len(pts)-1]; last.Y != 1 || last.X != float64(n-1) {
			t.Errorf("n=%d: last point %+v, want (max, 1)", n, last)
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].Y <= pts[i-1].Y || pts[i].X < pts[i-1].X {
				t.Fatalf("n=%d: points %d and %d out of order: %+v %+v", n, i-1, i, pts[i-1], pts[i])
			}
		}
		if n >= 1000 && len(pts) < n/100 {
			t.Errorf("n=%d: %d points, want every point of the last 1%%", n, len(pts))
		}
	}
}
