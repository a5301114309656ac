chart.js 4.5.1 (npm tarball sha512-GIjfiT9dbmHRiYi6Nl2yFCq7kkwdkp1W/lp2J99rX0yo9tgJGn3lKQATztIjb5tVtevcBtIdICNWqlq5+E8/Pw==)
chart.umd.min.js sha256 48444a82d4edcb5bec0f1965faacdde18d9c17db3063d042abada2f705c9f54a
